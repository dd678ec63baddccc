// A hospital's progress chart (templates/institution.html), drawn from the JSON the page embeds as "d-data".
jicaiWithData("d-data", function (d) { jicaiProgressChart("chart-progress", d.varieties); });
