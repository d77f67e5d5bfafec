/* The map page (docs/map.md): heatmap tiles from /v1/tiles/heatmap over municipal outlines,
   filters that re-request the tiles, a legend and suppression notice for the current view
   from /v1/heatmaps, and the same numbers as a table. Plain JavaScript, no build step;
   everything comes from this origin. */
(() => {
  'use strict';

  const KOSOVO = [[20.0, 41.85], [21.8, 43.3]];
  const MAX_BOUNDS = [[18.8, 41.2], [23.0, 43.95]];
  const TILE_BOUNDS = [19.9, 41.8, 21.9, 43.35];
  const BACKGROUND = '#151a21';
  // Low to high; each colour has at least 3:1 contrast against BACKGROUND, and neighbours
  // differ in hue and in lightness (about 1.45:1 contrast between neighbours, 10+ L* apart).
  const RAMP = ['#7b4ad3', '#ce55a8', '#f17f71', '#fcb26b', '#fde78f'];
  const OUTLINE = '#8c97a6';
  // Tiles exist up to zoom 12 (H3 res 9, see geo/cells.py); deeper zooms reuse them.
  const TILE_MAX_ZOOM = 12;
  // Hexagon width (flat side to flat side) over Kosovo, in metres, by H3 resolution.
  const HEX_WIDTH_M = { 6: 6800, 7: 2500, 8: 960, 9: 360 };
  const FILTERS = ['group', 'category', 'from', 'to', 'status', 'layer'];
  const DATE = /^\d{4}-\d{2}-\d{2}$/;
  const DEBOUNCE_MS = 250;
  // A date field changes at every keystroke (typing a year passes 0002, 0020, 0202 …), so a
  // date is applied only once the typing pauses, or when the field loses focus.
  const TYPING_MS = 800;
  // Requests in flight at once for the table, and answers kept (a view seen before, or a
  // layer switched back, costs no request: the aggregate endpoints are rate limited).
  const TABLE_REQUESTS = 4;
  const TABLE_ANSWERS_KEPT = 500;
  const PHONE = '(max-width: 640px)'; // as in map.css

  const locale = document.documentElement.dataset.locale || 'en';
  // For Intl: the page's language tag (sr-Latn: plain sr would write Cyrillic month names).
  const language = document.documentElement.lang || locale;
  const text = JSON.parse(document.getElementById('map-messages').textContent);
  const plural = new Intl.PluralRules(language);
  const number = new Intl.NumberFormat(language);

  const byId = (id) => document.getElementById(id);
  const form = byId('filter-form');
  const groupSelect = byId('filter-group');
  const categorySelect = byId('filter-category');
  const fromInput = byId('filter-from');
  const toInput = byId('filter-to');
  const statusSelect = byId('filter-status');
  const layerChoice = byId('layer-choice');
  const dateError = byId('date-error');
  const tableDetails = byId('table-details');
  const tableStatus = byId('table-status');
  const legendClasses = byId('legend-classes');
  const cellSize = byId('cell-size');
  const notice = byId('suppression-notice');
  const mapError = byId('map-error');

  // First and last day the date fields accept, in ms since the epoch (UTC midnight).
  const DATE_MIN = Date.parse(fromInput.min);
  const DATE_MAX = Date.parse(fromInput.max);

  let map = null;
  let categories = [];
  let municipalities = [];
  // Settled once the municipalities and categories are in: the table needs both.
  let listsLoaded = null;
  let filters = filtersFromUrl();
  let infoController = null;
  let infoTimer = 0;
  let infoPending = true;
  let lastInfo = null;
  let stateTimer = 0;
  let typingTimer = 0;
  let tableController = null;
  let tableTimer = 0;
  const tableAnswers = new Map();

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, key) => values[key]);
  }

  function pluralForm(forms, count) {
    return forms[plural.select(count)] || forms.other;
  }

  // The day of an ISO date (YYYY-MM-DD, a real day between min and max) in ms, else NaN.
  function dayOf(value) {
    const time = DATE.test(value) ? Date.parse(value) : NaN;
    const real = time === time && new Date(time).toISOString().slice(0, 10) === value;
    return real && time >= DATE_MIN && time <= DATE_MAX ? time : NaN;
  }

  function filtersFromUrl() {
    const params = new URLSearchParams(window.location.search);
    const values = {};
    for (const name of FILTERS) values[name] = params.get(name) || '';
    for (const name of ['from', 'to']) if (Number.isNaN(dayOf(values[name]))) values[name] = '';
    if (values.from && values.to && dayOf(values.from) > dayOf(values.to)) values.to = '';
    if (!['open', 'resolved'].includes(values.status)) values.status = '';
    if (values.layer !== 'released') values.layer = '';
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
          filter: ['has', 'count'],
          paint: {
            'fill-color': colourExpression([5, 10, 20, 50, 100], 'count'),
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

  function colourExpression(lows, property) {
    const colours = rampFor(lows.length);
    if (lows.length === 1) return colours[0];
    const expression = ['step', ['get', property], colours[0]];
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

  // Text nodes are replaced only when their text changes: a live region announces every write.
  function setText(element, value) {
    if (element.textContent !== value) element.textContent = value;
  }

  function renderLegend(lows, max) {
    const key = lows ? `${lows.join()}|${max}` : '';
    if (legendClasses.dataset.key === key && legendClasses.childElementCount) return;
    legendClasses.dataset.key = key;
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

  // --- Two publication regimes (docs/privacy.md) ---
  // Non-sensitive categories are live counts (cells below k withheld); sensitive ones come
  // only from the monthly releases (noisy, below their threshold withheld). An answer about
  // both keeps them apart (`count` and `sensitive_count`): the map shows one at a time.

  // Does the answer have a live part, a released part, or both?
  function partsOf(data) {
    const live = (data.filters.live_categories || []).length > 0;
    const released = (data.filters.released_groups || []).length > 0;
    return { live, released, mixed: live && released };
  }

  // The layer an answer is shown in: 'live' or 'released'.
  function layerOf(data) {
    const { released, mixed } = partsOf(data);
    if (mixed) return filters.layer === 'released' ? 'released' : 'live';
    return released ? 'released' : 'live';
  }

  // The feature property holding that layer's values.
  function propertyOf(data) {
    return partsOf(data).mixed && layerOf(data) === 'released' ? 'sensitive_count' : 'count';
  }

  // The values of an answer's cells in its layer (cells without one are not shown in it).
  function valuesOf(data) {
    const property = propertyOf(data);
    return data.features
      .map((feature) => feature.properties[property])
      .filter((value) => value !== undefined && value !== null);
  }

  function monthName(id) {
    return new Intl.DateTimeFormat(language, { month: 'long', year: 'numeric', timeZone: 'UTC' })
      .format(Date.parse(`${id}-01`));
  }

  function months(ids) {
    if (!ids.length) return '';
    const first = monthName(ids[0]);
    return ids.length === 1 ? first : `${first} – ${monthName(ids[ids.length - 1])}`;
  }

  function noticeText(data) {
    if (layerOf(data) === 'live') {
      const hidden = data.suppressed ? data.suppressed.cells : 0;
      return [
        format(pluralForm(text.threshold, data.k), { k: number.format(data.k) }),
        hidden
          ? format(pluralForm(text.hidden, hidden), { n: number.format(hidden) })
          : text.hidden.zero,
      ].join(' ');
    }
    const release = data.release;
    const parts = [
      release.ids.length
        ? format(text.release, {
            months: months(release.ids),
            t: number.format(release.threshold),
          })
        : text.no_release,
    ];
    if (filters.status) parts.push(text.release_status);
    if (release.unreleased_months.length) {
      const missing = release.unreleased_months.map(monthName).join(', ');
      parts.push(format(text.unreleased, { months: missing }));
    }
    return parts.join(' ');
  }

  function showInfo(data) {
    const layer = layerOf(data);
    const { mixed } = partsOf(data);
    layerChoice.hidden = !mixed;
    if (mixed) byId(`layer-${layer}`).checked = true;
    const property = propertyOf(data);
    map.setFilter('heatmap', ['has', property]);
    const values = valuesOf(data);
    const k = Math.max(1, layer === 'live' ? data.k : data.release.threshold);
    if (values.length) {
      const max = Math.max(...values);
      const lows = classLows(Math.min(k, ...values), max);
      map.setPaintProperty('heatmap', 'fill-color', colourExpression(lows, property));
      renderLegend(lows, max);
    } else {
      renderLegend(null);
    }
    const width = HEX_WIDTH_M[data.resolution];
    setText(cellSize, width
      ? format(text.cell_size, {
          size: new Intl.NumberFormat(language, {
            style: 'unit',
            unit: width >= 1000 ? 'kilometer' : 'meter',
            maximumFractionDigits: 1,
          }).format(width >= 1000 ? width / 1000 : width),
        })
      : '');
    setText(notice, noticeText(data));
    updateDownloads(data.resolution);
  }

  function showError(error) {
    if (error) console.error(error);
    setText(mapError, text.error);
    updateState();
  }

  // body[data-map-state] is loading, ready (tiles drawn and the notice current) or error.
  // MapLibre does not always fire 'idle' or 'render' once the last tile of a reloaded source
  // is in, so while only the tiles are awaited the state is checked again shortly.
  function updateState() {
    let state = 'loading';
    if (mapError.textContent) state = 'error';
    else if (map && !infoPending && map.loaded() && map.isSourceLoaded('heatmap')) state = 'ready';
    if (document.body.dataset.mapState !== state) document.body.dataset.mapState = state;
    window.clearTimeout(stateTimer);
    if (state === 'loading' && map && !infoPending) {
      stateTimer = window.setTimeout(updateState, 200);
    }
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
    try {
      const response = await fetch(`/v1/heatmaps?${viewParams()}`, { signal: controller.signal });
      if (!response.ok) throw new Error(`/v1/heatmaps answered ${response.status}`);
      const data = await response.json();
      if (controller !== infoController) return;
      setText(mapError, '');
      lastInfo = data;
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
    municipalities = await getJson(`/v1/municipalities?boundary=true&lang=${locale}`);
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
    groupSelect.replaceChildren(groupSelect.options[0]);
    for (const { code, name } of groupsOf(categories)) groupSelect.append(option(code, name));
  }

  // Groups in the order of the group list, each with its categories by name.
  function groupsOf(list) {
    const groups = new Map();
    for (const category of list) {
      if (!groups.has(category.group.code)) {
        groups.set(category.group.code, { ...category.group, categories: [] });
      }
      groups.get(category.group.code).categories.push(category);
    }
    return [...groups.values()];
  }

  // One <optgroup> per group: names such as "Other" occur in more than one.
  function fillCategories() {
    const selected = categorySelect.value;
    const group = groupSelect.value;
    categorySelect.replaceChildren(categorySelect.options[0]);
    for (const { name, categories: members } of groupsOf(
      categories.filter((category) => !group || category.group.code === group),
    )) {
      const element = document.createElement('optgroup');
      element.label = name;
      members
        .sort((a, b) => a.name.localeCompare(b.name, language))
        .forEach((category) => element.append(option(category.code, category.name)));
      categorySelect.append(element);
    }
    categorySelect.value = selected;
    if (categorySelect.value !== selected) categorySelect.value = '';
  }

  // A date field's value ('' when empty) if it can be applied, else the message saying why.
  function readDate(input) {
    if (input.validity.badInput) return { error: text.date_incomplete };
    if (!input.value) return { value: '' };
    if (Number.isNaN(dayOf(input.value))) {
      const long = new Intl.DateTimeFormat(language, { dateStyle: 'long', timeZone: 'UTC' });
      return {
        error: format(text.date_range, { min: long.format(DATE_MIN), max: long.format(DATE_MAX) }),
      };
    }
    return { value: input.value };
  }

  // The filters the form asks for, with the dates that can be applied: a date that is
  // incomplete, out of range or in the wrong order leaves the last applied dates in force.
  function formValues() {
    const from = readDate(fromInput);
    const to = readDate(toInput);
    const values = {
      group: groupSelect.value,
      category: categorySelect.value,
      from: from.error ? filters.from : from.value,
      to: to.error ? filters.to : to.value,
      status: statusSelect.value,
      layer: byId('layer-released').checked ? 'released' : '',
    };
    let error = from.error || to.error || '';
    const invalid = [from.error ? fromInput : null, to.error ? toInput : null];
    if (values.from && values.to && dayOf(values.from) > dayOf(values.to)) {
      values.from = filters.from;
      values.to = filters.to;
      if (!error) {
        error = text.date_order;
        invalid.splice(0, 2, fromInput, toInput);
      }
    }
    return { values, error, invalid };
  }

  function showDateError({ error, invalid }) {
    for (const input of [fromInput, toInput]) {
      input.setAttribute('aria-invalid', String(invalid.includes(input)));
    }
    setText(dateError, error);
  }

  // --- The table: the same numbers as the map, per municipality and per category group ---

  // The query of the current filters and view, as /v1/heatmaps takes it.
  function viewParams() {
    const params = filterParams(filters);
    params.set('zoom', String(Math.floor(map.getZoom())));
    params.set('bbox', viewBbox().join(','));
    return params;
  }

  // Links to the data of the view: the same query as GeoJSON, CSV and OGC API Features.
  function updateDownloads(resolution) {
    const params = viewParams();
    byId('download-geojson').href = `/v1/heatmaps?${params}`;
    params.set('format', 'csv');
    byId('download-csv').href = `/v1/heatmaps?${params}`;
    const ogc = filterParams(filters);
    ogc.delete('from');
    ogc.delete('to');
    if (filters.from || filters.to) {
      ogc.set('datetime', `${filters.from || '..'}/${filters.to || '..'}`);
    }
    ogc.set('bbox', viewBbox().join(','));
    ogc.set('resolution', String(resolution));
    byId('download-ogc').href = `/ogc/collections/heatmap-cells/items?${ogc}`;
  }

  function scheduleTable(delay = DEBOUNCE_MS) {
    window.clearTimeout(tableTimer);
    if (!tableDetails.open || !map) return;
    tableDetails.dataset.state = 'loading';
    tableTimer = window.setTimeout(loadTable, delay);
  }

  // Run the tasks (functions returning promises), at most `limit` at a time, in order.
  async function inPool(tasks, limit) {
    const results = new Array(tasks.length);
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) {
        const i = next;
        next += 1;
        results[i] = await tasks[i]();
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
    return results;
  }

  // One row per municipality whose extent meets the view and per category group in the
  // filters. Each is the published total of /v1/heatmaps for that municipality or group in
  // the view, and the number of cells it withheld: nothing is added or worked out here.
  async function loadTable() {
    if (tableController) tableController.abort();
    const controller = new AbortController();
    tableController = controller;
    // Said on the first load only: a status region speaks at every change of its text.
    if (!byId('table-municipalities').tBodies[0].rows.length) {
      setText(tableStatus, text.table_loading);
    }
    await listsLoaded;
    if (controller !== tableController) return;
    const view = viewParams();
    const [west, south, east, north] = view.get('bbox').split(',').map(Number);
    const ask = (params) => async () => {
      const url = `/v1/heatmaps?${params}`;
      const key = `${filters.layer}|${url}`; // one answer, a row per layer
      if (tableAnswers.has(key)) return tableAnswers.get(key);
      const response = await fetch(url, { signal: controller.signal });
      if (response.status === 429) {
        const error = new Error('rate limited');
        error.retryAfter = Number(response.headers.get('Retry-After')) || 10;
        throw error;
      }
      if (!response.ok) throw new Error(`/v1/heatmaps answered ${response.status}`);
      const data = await response.json();
      const layer = layerOf(data);
      const row = {
        layer,
        reports: valuesOf(data).reduce((sum, v) => sum + v, 0),
        withheld: layer === 'live' && data.suppressed ? data.suppressed.cells : null,
      };
      if (tableAnswers.size >= TABLE_ANSWERS_KEPT) tableAnswers.clear();
      tableAnswers.set(key, row);
      return row;
    };
    const inView = municipalities
      .filter(({ bbox: b }) => b && b[0] <= east && b[2] >= west && b[1] <= north && b[3] >= south)
      .sort((a, b) => a.name.localeCompare(b.name, language));
    const byMunicipality = inView.map((m) => {
      const params = new URLSearchParams(view);
      params.set('municipality', m.slug);
      return ask(params);
    });
    const chosen = categories.find((c) => c.code === filters.category);
    const scope = groupsOf(categories).filter(
      (g) => (chosen ? chosen.group.code : filters.group || g.code) === g.code,
    );
    const byGroup = scope.map((g) => {
      const params = new URLSearchParams(view);
      if (!chosen) {
        params.delete('group');
        params.set('group', g.code);
      }
      return ask(params);
    });
    try {
      const results = await inPool([...byMunicipality, ...byGroup], TABLE_REQUESTS);
      if (controller !== tableController) return;
      const rows = (names, counts) => names.map((name, i) => ({ name, ...counts[i] }));
      const municipalRows = rows(inView.map((m) => m.name), results);
      fillTable('table-municipalities', municipalRows);
      const released = byId('layer-released').labels[0].textContent.trim();
      setText(
        byId('table-layer'),
        municipalRows.some((row) => row.layer === 'released') ? ` (${released})` : '',
      );
      // A sensitive category is released with its whole group: the row is the group's.
      const groupRows = scope.map((g, i) => {
        const row = results[inView.length + i];
        if (row.layer === 'released') return { ...row, name: `${g.name} ${text.released_suffix}` };
        return { ...row, name: chosen ? `${g.name}: ${chosen.name}` : g.name };
      });
      fillTable('table-groups', groupRows);
      const anyReleased = [...municipalRows, ...groupRows].some((row) => row.layer === 'released');
      setText(byId('table-release-note'), anyReleased ? text.table_release_note : '');
      setText(tableStatus, text.table_ready);
      tableDetails.dataset.state = 'ready';
    } catch (error) {
      if (error.name === 'AbortError') return;
      if (error.retryAfter) {
        // The aggregate endpoints' rate limit: try again when it allows.
        setText(tableStatus, text.table_busy);
        scheduleTable(error.retryAfter * 1000);
        return;
      }
      console.error(error);
      setText(tableStatus, text.error);
      tableDetails.dataset.state = 'error';
    } finally {
      if (controller === tableController) tableController = null;
    }
  }

  function fillTable(id, rows) {
    const body = byId(id).tBodies[0];
    body.replaceChildren(
      ...rows.map(({ name, reports, withheld, layer }) => {
        const row = document.createElement('tr');
        const header = document.createElement('th');
        header.scope = 'row';
        header.textContent = name;
        const count = document.createElement('td');
        // All of its cells withheld: the area has reports, but too few to show. Released
        // values below the threshold leave no trace: a dash says that none reached it.
        if (!reports && withheld) {
          count.className = 'withheld';
          count.textContent = text.withheld;
        } else if (!reports && layer === 'released') {
          count.textContent = '—';
        } else {
          count.textContent = number.format(reports);
        }
        const hidden = document.createElement('td');
        hidden.textContent = withheld === null ? text.not_published : number.format(withheld);
        row.append(header, count, hidden);
        return row;
      }),
    );
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

  // Apply what the form holds. An error is shown at once when `announce` is set (a change
  // other than typing, or the typing paused), and cleared at once when it is gone.
  function applyFilters(announce = true) {
    window.clearTimeout(typingTimer);
    const state = formValues();
    if (announce || !state.error) showDateError(state);
    const before = tileUrl();
    const layerBefore = filters.layer;
    filters = state.values;
    syncUrl();
    if (tileUrl() === before) {
      // Another layer of the same answer: nothing to fetch for the map.
      if (filters.layer !== layerBefore && lastInfo) {
        showInfo(lastInfo);
        scheduleTable();
      }
      return;
    }
    map.getSource('heatmap').setTiles([tileUrl()]);
    scheduleInfo();
    scheduleTable();
  }

  function typedDate() {
    window.clearTimeout(typingTimer);
    // While typing, only a cleared error is shown; new ones wait for the pause.
    const state = formValues();
    if (!state.error) showDateError(state);
    typingTimer = window.setTimeout(applyFilters, TYPING_MS);
  }

  async function loadCategories() {
    categories = await getJson(`/v1/categories?lang=${locale}`);
    fillGroups();
    groupSelect.value = filters.group;
    fillCategories();
    categorySelect.value = filters.category;
    // Codes in the URL that no longer exist are dropped.
    applyFilters();
  }

  // Room for Kosovo between the panels, when there is enough of it. On phones nothing
  // covers the map.
  function viewPadding() {
    const margin = 16;
    if (window.matchMedia(PHONE).matches) return margin;
    const sidebar = document.querySelector('.sidebar').getBoundingClientRect();
    const side = document.querySelector('.side').getBoundingClientRect();
    const padding = {
      top: margin,
      bottom: margin,
      left: sidebar.right + margin,
      right: side.width + 2 * margin,
    };
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
    byId(filters.layer === 'released' ? 'layer-released' : 'layer-live').checked = true;
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
      setText(mapError, text.no_webgl);
      setText(notice, '');
      updateState();
      console.error(error);
      return;
    }
    map.touchZoomRotate.disableRotation();
    map.keyboard.disableRotation();
    map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
    map.on('load', () => {
      listsLoaded = Promise.all([
        loadBoundaries().catch(showError),
        loadCategories().catch(showError),
      ]);
      listsLoaded.then(() => scheduleTable(0));
      scheduleInfo(0);
    });
    map.on('moveend', () => {
      scheduleInfo();
      scheduleTable();
    });
    map.on('idle', updateState);
    map.on('error', (event) => showError(event.error));

    const dates = [fromInput, toInput];
    form.addEventListener('input', (event) => {
      if (dates.includes(event.target)) typedDate();
    });
    form.addEventListener('change', (event) => {
      if (dates.includes(event.target)) return typedDate();
      if (event.target === groupSelect) fillCategories();
      return applyFilters();
    });
    form.addEventListener('focusout', (event) => {
      if (dates.includes(event.target)) applyFilters();
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      applyFilters();
    });
    // Reset fires before the controls are cleared.
    form.addEventListener('reset', () =>
      window.setTimeout(() => {
        fillCategories();
        applyFilters();
      }),
    );
    tableDetails.addEventListener('toggle', () => scheduleTable(0));
    for (const link of document.querySelectorAll('.languages a')) {
      // Set at activation, so the link keeps the filters and the current view.
      link.addEventListener('click', () => {
        link.href = languageHref(link.hreflang);
      });
    }
  }

  start();
})();
