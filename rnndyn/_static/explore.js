/* rnndyn interactive report: the unit table, the unit map and the charts of the selected unit.
 * Reads the JSON in <script id="rnndyn-data">, draws every chart with vegaEmbed (vendored bundle),
 * and exposes window.rnndyn = {views, data, select, selected, ready} for tests and the console. */
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("rnndyn-data").textContent);
  const OPTS = { actions: false, renderer: "svg" };
  const views = {};
  const state = { views: views, data: DATA, selected: null, ready: null, select: null };
  window.rnndyn = state;

  function decode(p) {
    const bin = atob(p.b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const data = p.dtype === "f4" ? new Float32Array(bytes.buffer) : bytes;
    return { shape: p.shape, data: data };
  }
  const C = {};
  for (const k of Object.keys(DATA.curves)) C[k] = decode(DATA.curves[k]);
  // element [i, j, u] of a packed (A, B, n_units) array
  function at(a, i, j, u) {
    return a.data[(i * a.shape[1] + j) * a.shape[2] + u];
  }
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  const copy = (o) => JSON.parse(JSON.stringify(o));

  function embed(id, spec) {
    const el = document.getElementById("chart-" + id);
    if (views[id]) views[id].finalize();
    el.dataset.drawn = "0";
    return vegaEmbed(el, spec, OPTS).then(function (res) {
      views[id] = res.view;
      el.dataset.drawn = "1";
      return res.view;
    });
  }

  // ------------------------------------------------------------------ selected unit's data
  function unitData(u) {
    const bands = [];
    for (const region of ["input", "padding"]) {
      const b = C["band_" + region];
      for (let t = 0; t < b.shape[1]; t++) {
        const med = at(b, 1, t, u);
        if (finite(med)) bands.push({ step: t, region: region, lo: at(b, 0, t, u), med: med, hi: at(b, 2, t, u) });
      }
    }
    const examples = [];
    const ex = C.examples;
    for (let k = 0; k < ex.shape[0]; k++) {
      const seq = "seq " + DATA.example_index[k] + " (length " + DATA.example_lengths[k] + ")";
      for (let t = 0; t < ex.shape[1]; t++) {
        const part = at(C.example_input, k, t, u) ? "input" : "padding";
        examples.push({ step: t, seq: seq, part: part, value: at(ex, k, t, u) });
      }
    }
    const curve = function (a, x, y, skip) {
      const rows = [];
      for (let r = 0; r < a.shape[0]; r++) {
        for (let j = 0; j < a.shape[1]; j++) {
          const v = at(a, r, j, u);
          if (finite(v) && !skip(j, v)) rows.push({ [x]: j, region: DATA.regions[r], [y]: v });
        }
      }
      return rows;
    };
    return {
      bands: bands,
      examples: examples,
      delta: curve(C.rms, "step", "rms", () => false),
      msd: curve(C.msd, "lag", "msd", (j, v) => j === 0 || v <= 0),
      vacf: curve(C.vacf, "lag", "vacf", () => false),
    };
  }

  let ticket = 0;
  async function select(u) {
    u = Number(u);
    const mine = ++ticket;
    state.selected = u;
    document.body.dataset.unit = "";
    const row = DATA.units[u];
    const d = unitData(u);
    const jobs = [];
    const sets = { unit_traj: ["bands", "examples"], unit_delta: ["delta"], unit_msd: ["msd"], unit_vacf: ["vacf"] };
    for (const id of Object.keys(sets)) {
      const spec = copy(DATA.specs[id]);
      spec.datasets = {};
      for (const name of sets[id]) spec.datasets[name] = d[name];
      spec.title = { text: "unit " + row.name, anchor: "start" };
      jobs.push(embed(id, spec));
    }
    for (const id of DATA.scatters) {
      if (views[id]) jobs.push(views[id].signal("selectedUnit", u).runAsync());
    }
    document.getElementById("unit-title").textContent = "Selected unit: " + row.name;
    const facts = DATA.fact_columns.filter((c) => row[c] !== null && row[c] !== undefined);
    document.getElementById("unit-facts").textContent = facts.map((c) => c + " " + fmt(row[c])).join(" \u00b7 ");
    for (const tr of document.querySelectorAll("#unit-table tbody tr")) {
      tr.classList.toggle("selected", Number(tr.dataset.unit) === u);
    }
    await Promise.all(jobs);
    if (mine === ticket) document.body.dataset.unit = String(u);
  }
  state.select = select;

  // ------------------------------------------------------------------ the unit table
  const COLS = DATA.columns; // [{name, numeric}]
  const sort = { col: "rank", dir: 1 };
  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
    return String(v);
  }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }
  // filter: space-separated terms; "col<v", "col>v", "col=v" test a column, other terms match any cell
  function matcher(text) {
    const tests = [];
    for (const term of text.trim().split(/\s+/).filter(Boolean)) {
      const m = term.match(/^([A-Za-z_][\w]*)(<=|>=|<|>|=)(.+)$/);
      if (m && COLS.some((c) => c.name === m[1])) {
        const col = m[1], op = m[2], raw = m[3], val = Number(raw);
        tests.push(function (row) {
          const v = row[col];
          if (op === "=") return String(v).toLowerCase() === raw.toLowerCase() || (finite(val) && v === val);
          if (!finite(v) || !finite(val)) return false;
          return op === "<" ? v < val : op === ">" ? v > val : op === "<=" ? v <= val : v >= val;
        });
      } else {
        const low = term.toLowerCase();
        tests.push((row) => COLS.some((c) => fmt(row[c.name]).toLowerCase().includes(low)));
      }
    }
    return (row) => tests.every((t) => t(row));
  }
  function drawTable() {
    const keep = matcher(document.getElementById("unit-filter").value);
    const rows = DATA.units.filter(keep);
    const c = sort.col, dir = sort.dir;
    rows.sort(function (a, b) {
      const x = a[c], y = b[c];
      if (x === y) return a.unit - b.unit;
      if (x === null || x === undefined) return 1; // missing last, either way
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * dir;
    });
    const head = COLS.map(function (col) {
      const mark = col.name === c ? (dir > 0 ? " \u25b2" : " \u25bc") : "";
      return '<th data-col="' + esc(col.name) + '" class="' + (col.numeric ? "num" : "") + '">' + esc(col.name) + mark + "</th>";
    }).join("");
    const body = rows.map(function (row) {
      const cls = row.unit === state.selected ? ' class="selected"' : "";
      const cells = COLS.map((col) => "<td>" + esc(fmt(row[col.name])) + "</td>").join("");
      return '<tr data-unit="' + row.unit + '"' + cls + ">" + cells + "</tr>";
    }).join("");
    document.querySelector("#unit-table thead").innerHTML = "<tr>" + head + "</tr>";
    document.querySelector("#unit-table tbody").innerHTML = body;
    document.getElementById("unit-count").textContent = rows.length + " of " + DATA.units.length + " units";
  }
  document.querySelector("#unit-table thead").addEventListener("click", function (ev) {
    const th = ev.target.closest("th");
    if (!th) return;
    const col = th.dataset.col;
    sort.dir = sort.col === col ? -sort.dir : 1;
    sort.col = col;
    drawTable();
  });
  document.querySelector("#unit-table tbody").addEventListener("click", function (ev) {
    const tr = ev.target.closest("tr");
    if (tr) select(tr.dataset.unit).catch((e) => console.error(e));
  });
  document.getElementById("unit-filter").addEventListener("input", drawTable);

  // ------------------------------------------------------------------ charts over all units
  function unitsSpec(id) {
    const spec = copy(DATA.specs[id]);
    spec.datasets = { units: DATA.units };
    return spec;
  }
  function mapSpec() {
    const spec = unitsSpec("unit_map");
    const col = document.getElementById("map-color").value;
    const numeric = COLS.some((c) => c.name === col && c.numeric);
    spec.encoding.color = { field: col, type: numeric ? "quantitative" : "nominal", title: col };
    for (const p of spec.params) if (p.name === "selectedUnit" && state.selected !== null) p.value = state.selected;
    return spec;
  }
  function listen(view) {
    view.addSignalListener("pick", function (_, value) {
      const u = value && Array.isArray(value.unit) ? value.unit[0] : undefined;
      if (u !== undefined && u !== state.selected) select(u).catch((e) => console.error(e));
    });
    return view;
  }
  document.getElementById("map-color").addEventListener("change", function () {
    embed("unit_map", mapSpec()).then(listen).catch((e) => console.error(e));
  });

  drawTable();
  const first = [];
  for (const [id, section] of DATA.charts) {
    if (section === "unit") continue;
    const spec = id === "unit_map" ? mapSpec() : unitsSpec(id);
    const job = embed(id, spec);
    first.push(DATA.scatters.includes(id) ? job.then(listen) : job);
  }
  state.ready = Promise.all(first)
    .then(() => select(DATA.initial))
    .then(function () {
      document.body.dataset.ready = "1";
    })
    .catch(function (e) {
      console.error(e);
      document.body.dataset.ready = "error";
    });
})();
