// dynascope explorer: the glue that links the panels of one explorer (no other logic).
// The figure data come from Python (dynascope.plotting.Explorer); plotly draws them.
// Called as dynascopeExplorer(rootId, gzippedBase64Payload) after the plotly loader.
(function () {
  if (window.dynascopeExplorer) return;
  async function gunzip(b64) {
    const bin = Uint8Array.fromBase64 ? Uint8Array.fromBase64(b64)
      : Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const stream = new Blob([bin]).stream().pipeThrough(new DecompressionStream("gzip"));
    return await new Response(stream).text();
  }
  window.dynascopeGunzip = gunzip;
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  const fmt = (v, d) => (v === null ? "∞" : Number(v).toPrecision(d || 4));

  function decode(q, lo, step) {
    // quantised coordinates (integers, null = gap between trajectories) back to numbers
    return q.map((v) => (v === null ? null : lo + step * v));
  }

  window.dynascopeExplorer = async function (rootId, payload) {
    const root = document.getElementById(rootId);
    const Plotly = await window.dynascopePlotly;
    root.dataset.tPlotly = performance.now().toFixed(0); // ms since navigation (benchmarks)
    const d = JSON.parse(await gunzip(payload));
    root.dataset.tData = performance.now().toFixed(0);
    d.frames = d.frames || []; // absent from fragments written before sliders existed
    d.markers = d.markers || [];
    d.trajectory_name = d.trajectory_name || "trajectories";
    const view = root.querySelector(".dsx-view");
    const spec = root.querySelector(".dsx-spectrum");
    const info = root.querySelector(".dsx-info");
    const pick = root.querySelector(".dsx-pick");
    const colour = root.querySelector(".dsx-colour");
    const traces = [];
    const t = d.trajectories;
    let trajTrace = -1;
    if (t) {
      const ax = [0, 1, 2].map((k) => decode(t.q[k], t.lo[k], t.step[k]));
      const first = Object.keys(t.colour)[0];
      trajTrace = traces.length;
      traces.push({
        type: "scatter3d", mode: "lines", name: d.trajectory_name, x: ax[0], y: ax[1], z: ax[2],
        hoverinfo: "skip", connectgaps: false,
        line: { width: 2, color: t.colour[first].values, colorscale: t.colour[first].scale,
                showscale: false },
        opacity: 0.55,
      });
    }
    const pointTraces = [];
    // the points of one kind (index list) as trace data; with frames, only the first frame's
    function kindData(index) {
      return { x: index.map((i) => d.points.xyz[i][0]), y: index.map((i) => d.points.xyz[i][1]),
               z: index.map((i) => d.points.xyz[i][2]), customdata: index,
               text: index.map((i) => d.points.name[i]) };
    }
    d.kinds.forEach((g, j) => {
      pointTraces.push(traces.length);
      traces.push(Object.assign({
        type: "scatter3d", mode: "markers", name: g.label, hovertemplate: "%{text}<extra></extra>",
        marker: { size: g.filled ? 6 : 5, color: g.color, symbol: g.symbol,
                  line: { color: g.color, width: 2 } },
      }, kindData(d.frames.length ? d.frames[0].kinds[j] : g.index)));
    });
    if (d.markers.length) {
      traces.push({ type: "scatter3d", mode: "markers+text", name: "bifurcations",
        x: d.markers.map((m) => m.xyz[0]), y: d.markers.map((m) => m.xyz[1]),
        z: d.markers.map((m) => m.xyz[2]), text: d.markers.map((m) => m.label),
        hoverinfo: "text", textposition: "top center",
        marker: { size: 10, color: "rgba(0,0,0,0)", symbol: "circle-open",
                  line: { color: "#111", width: 2 } } });
    }
    const branchTrace = traces.length;
    traces.push({ type: "scatter3d", mode: "lines", name: "unstable manifold", x: [], y: [], z: [],
                  connectgaps: false, hoverinfo: "skip", line: { color: "#c0392b", width: 5 } });
    const endTrace = traces.length;
    traces.push({ type: "scatter3d", mode: "markers", name: "branch end", x: [], y: [], z: [],
                  hoverinfo: "text", text: [], showlegend: false,
                  marker: { size: 9, color: "rgba(0,0,0,0)", symbol: "circle-open",
                            line: { color: "#c0392b", width: 3 } } });
    const selTrace = traces.length;
    traces.push({ type: "scatter3d", mode: "markers", name: "selected", x: [], y: [], z: [],
                  hoverinfo: "skip", showlegend: false,
                  marker: { size: 12, color: "rgba(0,0,0,0)", symbol: "circle-open",
                            line: { color: "#111", width: 3 } } });
    const axis = (k) => ({ title: { text: d.axes[k] } });
    const layout = {
      margin: { l: 0, r: 0, t: 10, b: 0 }, height: 520, uirevision: "keep",
      legend: { x: 0, y: 1, bgcolor: "rgba(255,255,255,0.7)" },
      scene: { xaxis: axis(0), yaxis: axis(1), zaxis: axis(2), aspectmode: "cube" },
    };
    if (d.frames.length) {
      layout.height = 640;
      view.style.height = "640px";
      layout.sliders = [{ active: 0, pad: { t: 10 }, currentvalue: { visible: true },
        steps: d.frames.map((f) => ({ label: f.name, method: "animate",
          args: [[f.name], { mode: "immediate", frame: { duration: 0, redraw: true },
                             transition: { duration: 0 } }] })) }];
    }
    // the first selection is drawn with the rest (a restyle would redraw the whole scene)
    const o = overlay(d.initial);
    [branchTrace, endTrace, selTrace].forEach((k, j) => {
      traces[k].x = o.x[j]; traces[k].y = o.y[j]; traces[k].z = o.z[j]; traces[k].text = o.text[j];
    });
    root.dataset.tTraces = performance.now().toFixed(0);
    await Plotly.newPlot(view, traces, layout, { responsive: true, displaylogo: false });
    root.dataset.tPlot = performance.now().toFixed(0);
    if (d.frames.length) {
      await Plotly.addFrames(view, d.frames.map((f) => ({ name: f.name, traces: pointTraces,
                                                          data: f.kinds.map(kindData) })));
      root.dataset.frame = d.frames[0].name;
      view.on("plotly_sliderchange", (e) => { root.dataset.frame = e.step.label; });
    }

    if (colour && t) {
      colour.addEventListener("change", () => {
        const c = t.colour[colour.value];
        Plotly.restyle(view, { "line.color": [c.values], "line.colorscale": [c.scale] }, [trajTrace]);
      });
    }

    function spectrumFigure(ev) {
      const ct = d.continuous_time;
      // ev: stability eigenvalues: λ (discrete) or μ = (λ − 1)/dt (continuous)
      const colours = ev.unstable.map((u) => (u ? "#c0392b" : "#1f5fa8"));
      const data = [{ type: "scatter", mode: "markers", x: ev.re, y: ev.im, name: "eigenvalues",
                      marker: { color: colours, size: 8 }, hovertemplate: "%{x:.4g} %{y:+.4g}i<extra></extra>" }];
      const shapes = [];
      if (ct) {
        shapes.push({ type: "line", x0: 0, x1: 0, yref: "paper", y0: 0, y1: 1, line: { color: "#888", dash: "dash" } });
      } else {
        shapes.push({ type: "circle", x0: -1, y0: -1, x1: 1, y1: 1, line: { color: "#888", dash: "dash" } });
      }
      const layout = {
        height: 260, margin: { l: 45, r: 10, t: 10, b: 40 }, showlegend: false, shapes: shapes,
        xaxis: { title: { text: ct ? "Re μ" : "Re λ" }, zeroline: false },
        yaxis: { title: { text: ct ? "Im μ" : "Im λ" }, zeroline: false,
                 scaleanchor: ct ? undefined : "x" },
      };
      return [data, layout];
    }

    function overlay(i) {
      // the selected point's ring, its branches (gaps between them) and their ends
      const p = d.points;
      const bx = [], by = [], bz = [], ex = [], ey = [], ez = [], et = [];
      for (const b of d.branches.filter((b) => b.saddle === i)) {
        for (const q of b.path) { bx.push(q[0]); by.push(q[1]); bz.push(q[2]); }
        bx.push(null); by.push(null); bz.push(null);
        const end = b.path[b.path.length - 1];
        ex.push(end[0]); ey.push(end[1]); ez.push(end[2]);
        et.push(b.target >= 0 ? "ends at " + p.name[b.target] : "no attractor reached");
      }
      const xyz = p.xyz[i];
      return { x: [bx, ex, [xyz[0]]], y: [by, ey, [xyz[1]]], z: [bz, ez, [xyz[2]]], text: [[], et, []] };
    }

    function select(i, first) {
      i = Number(i);
      const p = d.points;
      const ev = p.eig[i];
      const unstable = ev.unstable.reduce((a, b) => a + (b ? 1 : 0), 0);
      const rows = ev.re.map((re, k) => `<tr class="${ev.unstable[k] ? "dsx-unstable" : "dsx-stable"}">` +
        `<td>${k + 1}</td><td data-re="${re}" data-im="${ev.im[k]}">${fmt(re, 6)} ${ev.im[k] < 0 ? "−" : "+"} ${fmt(Math.abs(ev.im[k]), 6)}i</td>` +
        `<td>${fmt(Math.hypot(re, ev.im[k]), 6)}</td><td>${fmt(ev.tau[k])}</td><td>${fmt(ev.freq[k])}</td></tr>`).join("");
      const mine = d.branches.filter((b) => b.saddle === i);
      const items = mine.map((b) => `<li data-target="${b.target}" data-mode="${b.mode}" data-sign="${b.sign}">` +
        `mode ${b.mode + 1}, ${b.sign > 0 ? "+" : "−"} side: ` +
        (b.target >= 0 ? `reaches ${esc(p.name[b.target])} after ${b.steps} steps` : `reaches no attractor within ${b.steps} steps`) +
        "</li>").join("");
      info.innerHTML =
        `<p class="dsx-title"><b>${esc(p.name[i])}</b></p>` +
        `<p><span class="dsx-kind">${esc(p.kind_label[i])}</span> · saddle index <b class="dsx-index">${p.index[i]}</b>` +
        ` · residual ‖F(x)−x‖ = <span class="dsx-residual" data-value="${p.residual[i]}">${fmt(p.residual[i], 3)}</span></p>` +
        (ev.shown < ev.total ? `<p class="dsx-note">${ev.shown} of ${ev.total} eigenvalues shown (most unstable first).</p>` : "") +
        `<table class="dsx-eig"><thead><tr><th>#</th><th>${d.continuous_time ? "μ" : "λ"}</th><th>${d.continuous_time ? "|μ|" : "|λ|"}</th>` +
        `<th>τ (${esc(d.time_unit)})</th><th>frequency (1/${esc(d.time_unit)})</th></tr></thead><tbody>${rows}</tbody></table>` +
        (mine.length ? `<p>Unstable manifold: ${mine.length} branch${mine.length > 1 ? "es" : ""}</p><ul class="dsx-branches">${items}</ul>`
                     : (unstable ? `<p>Its unstable manifold was not traced.</p>` : ""));
      if (!first) Plotly.restyle(view, overlay(i), [branchTrace, endTrace, selTrace]);
      const [sd, sl] = spectrumFigure(ev);
      Plotly.react(spec, sd, sl);
      if (pick.value !== String(i)) pick.value = String(i);
      root.dataset.selected = String(i);
      root.dataset.unstable = String(unstable);
      root.dataset.branches = String(mine.length);
    }
    pick.addEventListener("change", () => { select(pick.value); });
    view.on("plotly_click", (ev) => {
      const pt = ev.points.find((q) => pointTraces.includes(q.curveNumber));
      if (pt) select(pt.customdata);
    });
    select(d.initial, true);
    root.dataset.tReady = performance.now().toFixed(0);
    root.dataset.ready = "1";
  };

  // networks compared: heat map + embedding; a click opens that network's own explorer
  window.dynascopeCompare = async function (rootId, payload) {
    const root = document.getElementById(rootId);
    const Plotly = await window.dynascopePlotly;
    const d = JSON.parse(await gunzip(payload));
    const heat = root.querySelector(".dsc-heat");
    const embed = root.querySelector(".dsc-embed");
    const dist = root.querySelector(".dsc-distance");
    const group = root.querySelector(".dsc-group");
    const panel = root.querySelector(".dsc-network");
    const n = d.names.length;
    async function draw() {
      const key = dist.value;
      const lab = group ? d.labels[group.value] : d.names.map(() => "");
      const cats = [...new Set(lab)];
      const idx = d.names.map((_, i) => i);
      await Plotly.react(heat, [{ type: "heatmap", z: d.distances[key], x: idx, y: idx,
        text: d.names.map((a) => d.names.map((b) => a + " / " + b)), colorscale: "Viridis",
        hovertemplate: "%{text}: %{z:.4g}<extra></extra>" }],
        { height: 420, margin: { l: 40, r: 10, t: 10, b: 40 },
          xaxis: { title: { text: "network" } }, yaxis: { title: { text: "network" }, autorange: "reversed" } });
      await Plotly.react(embed, cats.map((c) => {
        const members = idx.filter((i) => lab[i] === c);
        return { type: "scatter", mode: "markers", name: c || "networks",
          x: members.map((i) => d.embedding[key][i][0]), y: members.map((i) => d.embedding[key][i][1]),
          customdata: members, text: members.map((i) => d.names[i]),
          hovertemplate: "%{text}<extra></extra>", marker: { size: 9 } };
      }), { height: 420, margin: { l: 40, r: 10, t: 10, b: 40 },
            xaxis: { title: { text: "embedding 1" } }, yaxis: { title: { text: "embedding 2" } } });
    }
    async function open(i) {
      i = Number(i);
      if (!(i >= 0 && i < n)) return;
      root.dataset.opened = String(i);
      const net = d.networks[i];
      if (!net) { panel.innerHTML = `<p class="dsx-note">${esc(d.names[i])}: no state space stored.</p>`; return; }
      panel.innerHTML = `<p><b>${esc(d.names[i])}</b></p>` + net.html;
      await window.dynascopeExplorer(net.id, net.data);
    }
    dist.addEventListener("change", draw);
    if (group) group.addEventListener("change", draw);
    await draw();
    heat.on("plotly_click", (e) => open(e.points[0].y));
    embed.on("plotly_click", (e) => open(e.points[0].customdata));
    root.open = open; // for tests and notebooks
    root.dataset.ready = "1";
  };
})();
