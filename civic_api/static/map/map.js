/* The map page (docs/map.md): heatmap tiles from /v1/tiles/heatmap over municipal outlines,
   filters that re-request the tiles, and a legend and suppression notice for the current view
   from /v1/heatmaps. Plain JavaScript, no build step; everything comes from this origin. */
(() => {
  'use strict';

  const KOSOVO = [[20.0, 41.85], [21.8, 43.3]];
  const MAX_BOUNDS = [[18.8, 41.2], [23.0, 43.95]];
  const TILE_BOUNDS = [19.9, 41.8, 21.9, 43.35];
  const BACKGROUND = '#151a21';
  // Low to high; each colour has at least 3:1 contrast against BACKGROUND, and neighbours
  // differ in hue as well as lightness.
  const RAMP = ['#8557d6', '#c945a0', '#ef6a5a', '#fb9f48', '#fde68a'];
  const OUTLINE = '#8c97a6';
  // Tiles exist up to zoom 12 (H3 res 9, see geo/cells.py); deeper zooms reuse them.
  const TILE_MAX_ZOOM = 12;
  // Hexagon width (flat side to flat side) over Kosovo, in metres, by H3 resolution.
  const HEX_WIDTH_M = { 6: 6800, 7: 2500, 8: 960, 9: 360 };
  const FILTERS = ['group', 'category', 'from', 'to', 'status'];
  const DATE = /^\d{4}-\d{2}-\d{2}$/;
  const DEBOUNCE_MS = 250;
  const PHONE = '(max-width: 640px)'; // as in map.css

  const locale = document.documentElement.dataset.locale || 'en';
  const text = JSON.parse(document.getElementById('map-messages').textContent);
  const plural = new Intl.PluralRules(locale);
  const number = new Intl.NumberFormat(locale);

  const byId = (id) => document.getElementById(id);
  const form = byId('filter-form');
  const groupSelect = byId('filter-group');
  const categorySelect = byId('filter-category');
  const fromInput = byId('filter-from');
  const toInput = byId('filter-to');
  const statusSelect = byId('filter-status');
  const dateError = byId('date-error');
  const legendClasses = byId('legend-classes');
  const cellSize = byId('cell-size');
  const notice = byId('suppression-notice');
  const mapError = byId('map-error');

  let map = null;
  let categories = [];
  let filters = filtersFromUrl();
  let infoController = null;
  let infoTimer = 0;
  let infoPending = true;

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => values[key]);
  }

  function pluralForm(forms, count) {
    return forms[plural.select(count)] || forms.other;
  }

  function filtersFromUrl() {
    const params = new URLSearchParams(window.location.search);
    const values = {};
    for (const name of FILTERS) values[name] = params.get(name) || '';
    for (const name of ['from', 'to']) if (!DATE.test(values[name])) values[name] = '';
    if (!['open', 'resolved'].includes(values.status)) values.status = '';
    return values;
  }

  // A category implies its group, so the group is sent only when no category is chosen.
  function filterParams(values) {
    const params = new URLSearchParams();
    if (values.category) params.set('category', values.category);
    else if (values.group) params.set('group', values.group);
    for (const name of ['from', 'to', 'status']) if (values[name]) params.set(name, values[name]);
    return params;
  }

  function tileUrl() {
    const query = filterParams(filters).toString();
    // Absolute: tiles are fetched from a worker, which has no page URL to resolve against.
    return `${window.location.origin}/v1/tiles/heatmap/{z}/{x}/{y}.mvt${query ? `?${query}` : ''}`;
  }

  function mapStyle() {
    return {
      version: 8,
      sources: {
        municipalities: {
          type: 'geojson',
          data: { type: 'FeatureCollection', features: [] },
          attribution: text.attribution,
        },
        heatmap: {
          type: 'vector',
          tiles: [tileUrl()],
          bounds: TILE_BOUNDS,
          maxzoom: TILE_MAX_ZOOM,
        },
      },
      layers: [
        { id: 'background', type: 'background', paint: { 'background-color': BACKGROUND } },
        {
          id: 'heatmap',
          type: 'fill',
          source: 'heatmap',
          'source-layer': 'heatmap',
          paint: {
            'fill-color': colourExpression([5, 10, 20, 50, 100]),
            'fill-outline-color': BACKGROUND,
          },
        },
        {
          id: 'municipality-outlines',
          type: 'line',
          source: 'municipalities',
          paint: {
            'line-color': OUTLINE,
            'line-opacity': 0.85,
            'line-width': ['interpolate', ['linear'], ['zoom'], 7, 0.7, 12, 1.6],
          },
        },
      ],
    };
  }

  // Colours for n classes, spread over the ramp.
  function rampFor(n) {
    if (n === 1) return [RAMP[2]];
    return Array.from({ length: n }, (_, i) => RAMP[Math.round((i * (RAMP.length - 1)) / (n - 1))]);
  }

  function colourExpression(lows) {
    const colours = rampFor(lows.length);
    if (lows.length === 1) return colours[0];
    const expression = ['step', ['get', 'count'], colours[0]];
    lows.slice(1).forEach((low, i) => expression.push(low, colours[i + 1]));
    return expression;
  }

  // x itself below 10, else the number of the series 10, 15, 20, 30, 50, 75, 100, 150 …
  // nearest to x on a log scale.
  function niceRound(x) {
    if (x < 10) return Math.round(x);
    const power = 10 ** Math.floor(Math.log10(x));
    const distance = (v) => Math.abs(Math.log(v / x));
    return [1, 1.5, 2, 3, 5, 7.5, 10]
      .map((m) => m * power)
      .reduce((best, v) => (distance(v) < distance(best) ? v : best));
  }

  // Lower bounds of up to RAMP.length classes, evenly spaced on a log scale from k (the
  // smallest published count) to the largest count in view: counts are heavily skewed.
  function classLows(k, max) {
    const lows = [k];
    for (let i = 1; i < RAMP.length; i += 1) {
      const exact = k * (max / k) ** (i / RAMP.length);
      const previous = lows[lows.length - 1];
      // Narrow ranges: whole numbers where round ones would repeat.
      const low = niceRound(exact) > previous ? niceRound(exact) : Math.ceil(exact);
      if (low > previous && low <= max) lows.push(low);
    }
    return lows;
  }

  function range(low, high) {
    return low === high ? number.format(low) : `${number.format(low)}–${number.format(high)}`;
  }

  function renderLegend(lows, max) {
    legendClasses.replaceChildren();
    if (!lows) {
      const item = document.createElement('li');
      item.textContent = text.legend_empty;
      legendClasses.append(item);
      return;
    }
    rampFor(lows.length).forEach((colour, i) => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.setAttribute('aria-hidden', 'true');
      swatch.style.backgroundColor = colour;
      const label = document.createElement('span');
      label.textContent = range(lows[i], i + 1 < lows.length ? lows[i + 1] - 1 : max);
      item.append(swatch, label);
      legendClasses.append(item);
    });
  }

  function showInfo(data) {
    const counts = data.features.map((feature) => feature.properties.count);
    const k = data.k;
    if (counts.length) {
      const max = Math.max(...counts);
      const lows = classLows(Math.min(k, ...counts), max);
      map.setPaintProperty('heatmap', 'fill-color', colourExpression(lows));
      renderLegend(lows, max);
    } else {
      renderLegend(null);
    }
    const width = HEX_WIDTH_M[data.resolution];
    cellSize.textContent = width
      ? format(text.cell_size, {
          size: new Intl.NumberFormat(locale, {
            style: 'unit',
            unit: width >= 1000 ? 'kilometer' : 'meter',
            maximumFractionDigits: 1,
          }).format(width >= 1000 ? width / 1000 : width),
        })
      : '';
    const hidden = data.suppressed ? data.suppressed.cells : 0;
    notice.textContent = [
      format(pluralForm(text.threshold, k), { k: number.format(k) }),
      hidden
        ? format(pluralForm(text.hidden, hidden), { n: number.format(hidden) })
        : text.hidden.zero,
    ].join(' ');
  }

  function showError(error) {
    if (error) console.error(error);
    mapError.textContent = text.error;
    mapError.hidden = false;
    updateState();
  }

  // body[data-map-state] is loading, ready (tiles drawn and the notice current) or error.
  function updateState() {
    let state = 'loading';
    if (!mapError.hidden) state = 'error';
    else if (map && !infoPending && map.loaded() && map.isSourceLoaded('heatmap')) state = 'ready';
    document.body.dataset.mapState = state;
  }

  function viewBbox() {
    const bounds = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);
    return [
      clamp(bounds.getWest(), -180, 180),
      clamp(bounds.getSouth(), -90, 90),
      clamp(bounds.getEast(), -180, 180),
      clamp(bounds.getNorth(), -90, 90),
    ].map((v) => v.toFixed(5));
  }

  function scheduleInfo(delay = DEBOUNCE_MS) {
    infoPending = true;
    updateState();
    window.clearTimeout(infoTimer);
    infoTimer = window.setTimeout(loadInfo, delay);
  }

  async function loadInfo() {
    if (infoController) infoController.abort();
    const controller = new AbortController();
    infoController = controller;
    const params = filterParams(filters);
    params.set('zoom', String(Math.floor(map.getZoom())));
    params.set('bbox', viewBbox().join(','));
    try {
      const response = await fetch(`/v1/heatmaps?${params}`, { signal: controller.signal });
      if (!response.ok) throw new Error(`/v1/heatmaps answered ${response.status}`);
      const data = await response.json();
      if (controller !== infoController) return;
      mapError.hidden = true;
      showInfo(data);
    } catch (error) {
      if (error.name !== 'AbortError') showError(error);
    } finally {
      if (controller === infoController) {
        infoController = null;
        infoPending = false;
        updateState();
      }
    }
  }

  async function getJson(path) {
    const response = await fetch(path);
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return response.json();
  }

  async function loadBoundaries() {
    const municipalities = await getJson(`/v1/municipalities?boundary=true&lang=${locale}`);
    map.getSource('municipalities').setData({
      type: 'FeatureCollection',
      features: municipalities
        .filter((m) => m.boundary)
        .map((m) => ({ type: 'Feature', properties: { slug: m.slug }, geometry: m.boundary })),
    });
  }

  function option(value, label) {
    const element = document.createElement('option');
    element.value = value;
    element.textContent = label;
    return element;
  }

  function fillGroups() {
    const groups = new Map();
    for (const category of categories) groups.set(category.group.code, category.group.name);
    groupSelect.replaceChildren(groupSelect.options[0]);
    for (const [code, name] of groups) groupSelect.append(option(code, name));
  }

  function fillCategories() {
    const selected = categorySelect.value;
    const group = groupSelect.value;
    categorySelect.replaceChildren(categorySelect.options[0]);
    categories
      .filter((category) => !group || category.group.code === group)
      .sort((a, b) => a.name.localeCompare(b.name, locale))
      .forEach((category) => categorySelect.append(option(category.code, category.name)));
    categorySelect.value = selected;
    if (categorySelect.value !== selected) categorySelect.value = '';
  }

  function formValues() {
    return {
      group: groupSelect.value,
      category: categorySelect.value,
      from: fromInput.value,
      to: toInput.value,
      status: statusSelect.value,
    };
  }

  function languageHref(code) {
    const params = new URLSearchParams(window.location.search);
    params.set('lang', code);
    return `?${params}${window.location.hash}`;
  }

  function syncUrl() {
    const params = new URLSearchParams(window.location.search);
    for (const name of FILTERS) {
      if (filters[name]) params.set(name, filters[name]);
      else params.delete(name);
    }
    const query = params.toString();
    const url = `${window.location.pathname}${query ? `?${query}` : ''}${window.location.hash}`;
    window.history.replaceState(window.history.state, '', url);
  }

  function applyFilters(values) {
    const badDates = Boolean(values.from && values.to && values.from > values.to);
    for (const input of [fromInput, toInput]) input.setAttribute('aria-invalid', String(badDates));
    dateError.textContent = badDates ? text.date_order : '';
    dateError.hidden = !badDates;
    if (badDates) return;
    const before = tileUrl();
    filters = values;
    syncUrl();
    if (tileUrl() === before) return;
    map.getSource('heatmap').setTiles([tileUrl()]);
    scheduleInfo();
  }

  async function loadCategories() {
    categories = await getJson(`/v1/categories?lang=${locale}`);
    fillGroups();
    groupSelect.value = filters.group;
    fillCategories();
    categorySelect.value = filters.category;
    // Codes in the URL that no longer exist are dropped.
    applyFilters(formValues());
  }

  // Room for Kosovo between the panels, when there is enough of it.
  function viewPadding() {
    const margin = 16;
    const padding = { top: margin, bottom: margin, left: margin, right: margin };
    const sidebar = document.querySelector('.sidebar').getBoundingClientRect();
    const legend = byId('legend').getBoundingClientRect();
    if (window.matchMedia(PHONE).matches) {
      padding.top = sidebar.bottom + margin;
      padding.bottom = window.innerHeight - legend.top + margin;
    } else {
      padding.left = sidebar.right + margin;
      padding.right = legend.width + 2 * margin;
    }
    const room = Math.min(
      window.innerWidth - padding.left - padding.right,
      window.innerHeight - padding.top - padding.bottom,
    );
    return room >= 240 ? padding : margin;
  }

  function start() {
    fromInput.value = filters.from;
    toInput.value = filters.to;
    statusSelect.value = filters.status;
    if (window.matchMedia(PHONE).matches) byId('filters').open = false;
    try {
      map = new maplibregl.Map({
        container: 'map',
        style: mapStyle(),
        bounds: KOSOVO,
        fitBoundsOptions: { padding: viewPadding() },
        maxBounds: MAX_BOUNDS,
        minZoom: 6,
        maxZoom: 15,
        maxPitch: 0,
        dragRotate: false,
        pitchWithRotate: false,
        touchPitch: false,
        hash: true,
        locale: text.maplibre,
        attributionControl: { compact: false },
      });
    } catch (error) {
      mapError.textContent = text.no_webgl;
      mapError.hidden = false;
      notice.textContent = '';
      updateState();
      console.error(error);
      return;
    }
    map.touchZoomRotate.disableRotation();
    map.keyboard.disableRotation();
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.on('load', () => {
      loadBoundaries().catch(showError);
      loadCategories().catch(showError);
      scheduleInfo(0);
    });
    map.on('moveend', () => scheduleInfo());
    map.on('idle', updateState);
    map.on('error', (event) => showError(event.error));

    form.addEventListener('change', (event) => {
      if (event.target === groupSelect) fillCategories();
      applyFilters(formValues());
    });
    // Reset fires before the controls are cleared.
    form.addEventListener('reset', () =>
      window.setTimeout(() => {
        fillCategories();
        applyFilters(formValues());
      }),
    );
    for (const link of document.querySelectorAll('.languages a')) {
      // Set at activation, so the link keeps the filters and the current view.
      link.addEventListener('click', () => {
        link.href = languageHref(link.hreflang);
      });
    }
  }

  start();
})();
