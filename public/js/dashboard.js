// County dashboard charts. Each chart is drawn from the table right below it (the table stays as
// the accessible version and the printed one), with Chart.js served locally. No inline script (CSP).
(function () {
  'use strict';
  var COLORS = ['#0b5cad', '#d9822b', '#2e8540', '#8e44ad', '#c0392b', '#16a085', '#7f8c8d', '#b7950b', '#34495e', '#e84393'];
  var NAMED = { 'on-time': '#2e8540', late: '#d9822b', open: '#0b5cad', overdue: '#b3261e', missing: '#7f8c8d' };
  var FONT = '"Noto Sans TC","Noto Sans CJK TC","Microsoft JhengHei","PingFang TC",sans-serif';

  function num(cell) { var v = Number(cell.getAttribute('data-value')); return isFinite(v) ? v : 0; }
  function text(el) { return (el.textContent || '').trim(); }

  /** rows: each body row is a series, the labelled head cells are the x axis (e.g. months). */
  function fromRows(table) {
    var heads = Array.prototype.slice.call(table.querySelectorAll('thead th[data-label]'));
    var labels = heads.map(function (h) { return h.getAttribute('data-label'); });
    var series = Array.prototype.map.call(table.querySelectorAll('tbody tr'), function (tr) {
      return { name: text(tr.querySelector('th')), values: Array.prototype.map.call(tr.querySelectorAll('td[data-value]'), num) };
    });
    return { labels: labels, series: series };
  }

  /** cols: each labelled head cell is a series, the body rows are the x axis (e.g. agencies). */
  function fromCols(table) {
    var headRow = table.querySelector('thead tr');
    var heads = Array.prototype.slice.call(headRow.children);
    var rows = Array.prototype.slice.call(table.querySelectorAll('tbody tr'));
    var labels = rows.map(function (tr) { return text(tr.querySelector('th')); });
    var series = [];
    heads.forEach(function (h, i) {
      if (!h.hasAttribute('data-label')) return;
      series.push({
        name: h.getAttribute('data-label'),
        color: NAMED[h.getAttribute('data-color')],
        values: rows.map(function (tr) { var c = tr.children[i]; return c ? num(c) : 0; }),
      });
    });
    return { labels: labels, series: series };
  }

  function draw(canvas) {
    var table = document.getElementById(canvas.getAttribute('data-chart-for'));
    if (!table || !window.Chart) return;
    var kind = canvas.getAttribute('data-kind') || 'bar';
    var unit = canvas.getAttribute('data-unit') || '';
    var data = table.getAttribute('data-orient') === 'rows' ? fromRows(table) : fromCols(table);
    var stacked = kind.indexOf('stacked') === 0;
    var horizontal = kind === 'stacked-h';
    var chart = new window.Chart(canvas, {
      type: 'bar',
      data: {
        labels: data.labels,
        datasets: data.series.map(function (s, i) {
          var c = s.color || COLORS[i % COLORS.length];
          return { label: s.name, data: s.values, backgroundColor: c, borderColor: c, borderWidth: 1 };
        }),
      },
      options: {
        indexAxis: horizontal ? 'y' : 'x',
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: data.series.length > 1, position: 'bottom' },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + '：' + ctx.formattedValue + unit; } } },
        },
        scales: {
          x: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } },
          y: { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
    canvas.setAttribute('data-drawn', 'true');
    return chart;
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (window.Chart) {
      window.Chart.defaults.font.family = FONT;
      window.Chart.defaults.color = '#1b2430';
    }
    var charts = Array.prototype.map.call(document.querySelectorAll('canvas[data-chart-for]'), draw).filter(Boolean);
    // Redraw at the printed width so charts fit an A4 page.
    window.addEventListener('beforeprint', function () { charts.forEach(function (c) { c.resize(); }); });
    document.querySelectorAll('[data-print]').forEach(function (b) {
      b.addEventListener('click', function () { window.print(); });
    });
  });
})();
