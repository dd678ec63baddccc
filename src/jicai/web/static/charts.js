// Small helpers around ECharts: every chart is drawn from the JSON the page embeds (the API's own figures).
window.jicaiChart = function (id, option) {
  var el = document.getElementById(id);
  if (!el || !window.echarts) return null;
  var c = echarts.init(el, null, {renderer: "svg"});
  c.setOption(Object.assign({animation: false, tooltip: {trigger: "axis"}, grid: {left: 50, right: 20, top: 40, bottom: 60}}, option));
  window.addEventListener("resize", function () { c.resize(); });
  el.dataset.ready = "1";
  return c;
};
window.jicaiPct = function (v) { return v == null ? null : Math.round(v * 1000) / 10; };
// draw(data) once the page has loaded, data being the JSON the page embeds in the script element (type
// application/json) of that id
window.jicaiWithData = function (id, draw) {
  document.addEventListener("DOMContentLoaded", function () { draw(JSON.parse(document.getElementById(id).textContent)); });
};
// Completion (bars) against time progress (a line), one point per variety: the overview's and a hospital's chart.
window.jicaiProgressChart = function (id, rows) {
  var zh = document.documentElement.lang !== "en";
  return jicaiChart(id, {
    legend: {top: 0, data: [zh ? "完成率" : "Completion", zh ? "序时进度" : "Time progress"]},
    // the grid holds the rotated names (else a long first name is cut off at the left edge of a phone)
    // a name is cut to 120 px (its full text in the tooltip), so the first one stays inside the left margin
    grid: {left: 80, right: 20, top: 40, bottom: 10, containLabel: true},  // the legend above, the names below
    xAxis: {type: "category", data: rows.map(function (r) { return r.variety_name || r.variety_id; }),
            axisLabel: {rotate: 40, width: 120, overflow: "truncate"}},
    yAxis: {type: "value", axisLabel: {formatter: "{value}%"}},
    series: [{name: zh ? "完成率" : "Completion", type: "bar", data: rows.map(function (r) { return jicaiPct(r.completion); })},
             {name: zh ? "序时进度" : "Time progress", type: "line", data: rows.map(function (r) { return jicaiPct(r.time_progress); })}]
  });
};
