// The overview's charts (templates/overview.html), drawn from the JSON the page embeds as "ov-data".
jicaiWithData("ov-data", function (ov) {
  var zh = document.documentElement.lang !== "en";
  jicaiProgressChart("chart-variety", ov.by_variety);
  var names = {3: zh ? "三级" : "Level 3", 2: zh ? "二级" : "Level 2", 1: zh ? "一级" : "Level 1", 0: zh ? "未定级" : "Unrated"};
  jicaiChart("chart-level", {
    xAxis: {type: "category", data: ov.by_level.map(function (r) { return names[r.level]; })},
    yAxis: {type: "value", axisLabel: {formatter: "{value}%"}},
    series: [{type: "bar", name: zh ? "非中选占比" : "Non-selected share", data: ov.by_level.map(function (r) { return jicaiPct(r.nonselected_share); })}]
  });
  fetch("/api/overview/trend?as_of=" + ov.as_of, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (tr) {
    jicaiChart("chart-trend", {
      legend: {data: [zh ? "完成率" : "Completion", zh ? "非中选占比" : "Non-selected", zh ? "回款率" : "Paid on time"]},
      xAxis: {type: "category", data: tr.map(function (r) { return r.month; })},
      yAxis: {type: "value", axisLabel: {formatter: "{value}%"}},
      series: [{name: zh ? "完成率" : "Completion", type: "line", data: tr.map(function (r) { return jicaiPct(r.completion); })},
               {name: zh ? "非中选占比" : "Non-selected", type: "line", data: tr.map(function (r) { return jicaiPct(r.nonselected_share); })},
               {name: zh ? "回款率" : "Paid on time", type: "line", data: tr.map(function (r) { return jicaiPct(r.payment_rate); })}]
    });
  });
});
