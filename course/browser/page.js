// Helpers the browser test calls in the page (window.__minseg), on top of window.jupyterapp
// (JupyterLab started with --LabApp.expose_app_in_browser=True).
window.__minseg = {
  // A widget shown by a cell (not the outputs nested in an Output widget).
  ROOT: '.jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output:has(> .jupyter-widgets)',

  path: null,

  // The notebook panel being tested (found by its path: the focused widget may be a dialog).
  panel() {
    if (!window.jupyterapp || !this.path) return null;
    for (const w of window.jupyterapp.shell.widgets('main')) {
      if (w.context && w.content && w.sessionContext && w.context.path === this.path && !w.isDisposed) return w;
    }
    return null;
  },

  async open(path) {
    const app = window.jupyterapp;
    await app.started; await app.restored;
    this.path = path;
    const w = await app.commands.execute('docmanager:open', { path, factory: 'Notebook' });
    await w.context.ready; await w.revealed;
    app.shell.activateById(w.id);
    return true;
  },

  kernelStatus() {
    const p = this.panel();
    const k = p && p.sessionContext.session && p.sessionContext.session.kernel;
    return k ? k.status : 'none';
  },

  dirty() { const p = this.panel(); return p ? p.context.model.dirty : null; },

  metadata() { const p = this.panel(); return p ? p.context.model.toJSON().metadata : null; },

  async runAll() {
    const p = this.panel();
    await p.sessionContext.ready;
    return await window.jupyterapp.commands.execute('notebook:run-all-cells');
  },

  // Every code cell: execution count, grading metadata and its outputs (images shortened).
  cells() {
    const p = this.panel(), model = p.content.model, out = [];
    for (let i = 0; i < model.cells.length; i++) {
      const c = model.cells.get(i);
      if (c.type !== 'code') continue;
      const outputs = c.outputs.toJSON().map(o => {
        const data = o.data || {};
        return { type: o.output_type, ename: o.ename || null, evalue: o.evalue || null, name: o.name || null,
                 text: o.text ? String(o.text).slice(0, 500) : (data['text/plain'] ? String(data['text/plain']).slice(0, 300) : null),
                 mimes: Object.keys(data) };
      });
      out.push({ index: i, id: c.id, count: c.executionCount, nbgrader: c.getMetadata('nbgrader') || null, outputs });
    }
    return out;
  },

  // Text a learner would read as an error anywhere in the notebook's outputs (textContent: innerText
  // is empty for outputs the windowed notebook has not laid out yet).
  errorTexts() {
    const p = this.panel(), found = [];
    const patterns = [/Error displaying widget[^\n]*/, /Loading widget[^\n]*/, /model not found[^\n]*/i,
                      /Failed to (render|load)[^\n]*/];
    for (const node of p.content.node.querySelectorAll('.jp-OutputArea-output')) {
      const text = node.textContent || '';
      const hit = patterns.map(pattern => text.match(pattern)).find(m => m);  // one line per output
      if (hit) found.push(hit[0].slice(0, 200));
    }
    return found;
  },

  widgetRoots() {
    const p = this.panel();
    return Array.from(p.content.node.querySelectorAll(this.ROOT));
  },

  // One string per widget that changes when its figure changes: images, Output-widget text, HTML widgets.
  signature(index) {
    const root = this.widgetRoots()[index];
    if (!root) return null;
    const parts = [];
    for (const img of root.querySelectorAll('img')) parts.push(this.hash(img.src));
    for (const node of root.querySelectorAll('.widget-output')) parts.push(this.hash(node.innerText || ''));
    for (const node of root.querySelectorAll('.widget-html-content')) parts.push(this.hash(node.innerHTML));
    return parts.join('|');
  },

  hash(text) {
    let h = 2166136261 >>> 0;
    for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    return text.length + ':' + h.toString(16);
  },

  // The controls of widget number `index`, each {kind, label, selector index within its kind}.
  controls(index) {
    const root = this.widgetRoots()[index];
    const clean = text => (text || '').replace(/[\u200b\s]+/g, ' ').trim();
    const label = el => { const l = el.querySelector('.widget-label'); return l ? clean(l.innerText) : ''; };
    const out = [];
    root.querySelectorAll('.widget-slider').forEach((el, i) => out.push({ kind: 'slider', i, label: label(el),
      readout: (el.querySelector('.widget-readout') || {}).innerText || '' }));
    root.querySelectorAll('.widget-play').forEach((el, i) => out.push({ kind: 'play', i, label: 'play' }));
    root.querySelectorAll('.widget-dropdown').forEach((el, i) => out.push({ kind: 'dropdown', i, label: label(el) }));
    root.querySelectorAll('.widget-checkbox').forEach((el, i) => out.push({ kind: 'checkbox', i, label: clean(el.innerText) }));
    root.querySelectorAll('.widget-toggle-buttons').forEach((el, i) => out.push({ kind: 'toggles', i, label: label(el) }));
    root.querySelectorAll('.widget-radio-box').forEach((el, i) => out.push({ kind: 'radio', i, label: label(el.parentElement) }));
    root.querySelectorAll('.widget-text input, .widget-inline-hbox input[type=number]').forEach((el, i) =>
      out.push({ kind: 'text', i, label: label(el.closest('.widget-inline-hbox') || el.parentElement) }));
    return out;
  },

  readout(index, i) {
    const el = this.widgetRoots()[index].querySelectorAll('.widget-slider')[i];
    const r = el && el.querySelector('.widget-readout');
    return r ? r.innerText : null;
  },

  // Size on screen, and the notebook cell (0-based, as in the .ipynb) that shows the widget.
  box(index) {
    const root = this.widgetRoots()[index], r = root.getBoundingClientRect();
    const cells = Array.from(this.panel().content.node.querySelectorAll('.jp-Notebook-cell'));
    return { width: Math.round(r.width), height: Math.round(r.height), cell: cells.indexOf(root.closest('.jp-Notebook-cell')) };
  },

  // Smallest computed font size of any text in the widget's controls (px).
  smallestControlFont(index) {
    let smallest = Infinity;
    for (const el of this.widgetRoots()[index].querySelectorAll('.widget-label, .widget-readout, button, select, option, label')) {
      if (!(el.innerText || '').trim()) continue;
      smallest = Math.min(smallest, parseFloat(getComputedStyle(el).fontSize));
    }
    return smallest === Infinity ? null : smallest;
  },

  async save() { await this.panel().context.save(); return this.panel().context.model.dirty; },

  // Scroll cell ``index`` into the middle of the view through the notebook's own API: JupyterLab 4
  // renders only the cells near the view, so a cell far down may have no DOM node to scroll to yet.
  async scrollToCell(index) {
    const notebook = this.panel().content;
    notebook.activeCellIndex = index;
    await notebook.scrollToCell(notebook.widgets[index], 'center');
  },

  async closeAndShutdown() {
    const p = this.panel();
    if (!p) return;
    const session = p.sessionContext.session;
    p.context.model.dirty = false;  // saved just before: close without the "save changes?" dialog
    p.dispose();
    if (session) await window.jupyterapp.serviceManager.sessions.shutdown(session.id);
  },
};
