/* Client picker: search the server for the user's clients and keep the chosen ids in one
 * hidden field, comma-separated, so that even "Add all matching" on a hundred thousand
 * clients posts a single field. The first few chosen are shown by name, the rest counted. */
(function () {
    'use strict';

    function init(root) {
        if (root.dataset.pickerReady) return;
        root.dataset.pickerReady = '1';
        var field = root.querySelector('[data-picker-value]');
        var query = root.querySelector('[data-picker-query]');
        var results = root.querySelector('[data-picker-results]');
        var chosenList = root.querySelector('[data-picker-chosen]');
        var summary = root.querySelector('[data-picker-summary]');
        var addAll = root.querySelector('[data-picker-add-all]');
        var clear = root.querySelector('[data-picker-clear]');
        var labelsNode = root.querySelector('script[type="application/json"]');
        var searchUrl = root.dataset.searchUrl;
        var shownChosen = parseInt(root.dataset.shownChosen, 10) || 50;
        var timer = null;
        var lastQuery = null;

        // Insertion-ordered: the first chosen are the ones shown by name.
        var chosen = new Set(field.value.split(',').filter(function (id) { return id; }));
        var labels = new Map(Object.entries(labelsNode ? JSON.parse(labelsNode.textContent) : {}));

        function text(tag, value, className) {
            var node = document.createElement(tag);
            node.textContent = value;
            if (className) node.className = className;
            return node;
        }

        function store() {
            field.value = Array.from(chosen).join(',');
        }

        function renderChosen() {
            chosenList.replaceChildren();
            var shown = 0;
            chosen.forEach(function (id) {
                if (shown >= shownChosen) return;
                shown += 1;
                var label = labels.get(id) || '#' + id;
                var item = text('li', label, 'client-picker__chip');
                var remove = text('button', '×', 'button button-small button-secondary');
                remove.type = 'button';
                remove.setAttribute('aria-label', (root.dataset.removeLabel || 'Remove') + ' ' + label);
                remove.addEventListener('click', function () {
                    chosen.delete(id);
                    store();
                    renderChosen();
                    refreshResults();
                });
                item.append(' ', remove);
                chosenList.append(item);
            });
            if (chosen.size > shown) {
                var others = (root.dataset.othersLabel || 'and %(count)s more')
                    .replace('%(count)s', String(chosen.size - shown));
                chosenList.append(text('li', others, 'help'));
            }
            summary.textContent = (root.dataset.chosenLabel || 'Chosen clients:') + ' ' + chosen.size;
            clear.hidden = chosen.size === 0;
        }

        function add(client) {
            var id = String(client.id);
            labels.set(id, client.label);
            chosen.add(id);
        }

        function search(all) {
            var q = query.value.trim();
            var url = searchUrl + (searchUrl.indexOf('?') < 0 ? '?' : '&') + 'q=' + encodeURIComponent(q) + (all ? '&all=1' : '');
            return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
                .then(function (response) {
                    if (!response.ok) throw new Error(response.status);
                    return response.json();
                });
        }

        var lastData = { results: [], more: false, total: 0 };

        function showResults(data) {
            lastData = data;
            results.replaceChildren();
            data.results.forEach(function (client) {
                var item = document.createElement('li');
                var button = text('button', client.label, 'button button-small button-secondary');
                button.type = 'button';
                button.disabled = chosen.has(String(client.id));
                button.addEventListener('click', function () {
                    add(client);
                    store();
                    button.disabled = true;
                    renderChosen();
                });
                item.append(button);
                results.append(item);
            });
            if (data.more) {
                var counted = data.over
                    ? (root.dataset.overLabel || 'more than %(count)s').replace('%(count)s', String(data.total))
                    : String(data.total);
                results.append(text('li', counted + ' ' + (root.dataset.moreLabel || ''), 'help'));
            }
            addAll.hidden = data.total === 0;
        }

        function refreshResults() {
            showResults(lastData);
        }

        function failed() {
            results.replaceChildren(text('li', root.dataset.failedLabel || '', 'error-message'));
        }

        query.addEventListener('input', function () {
            clearTimeout(timer);
            timer = setTimeout(function () {
                if (query.value === lastQuery) return;
                lastQuery = query.value;
                search(false).then(showResults).catch(failed);
            }, 200);
        });
        query.addEventListener('keydown', function (event) {
            if (event.key === 'Enter') event.preventDefault();
        });
        addAll.addEventListener('click', function () {
            search(true).then(function (data) {
                data.results.forEach(function (client) { labels.set(String(client.id), client.label); });
                data.ids.forEach(function (id) { chosen.add(String(id)); });
                store();
                renderChosen();
                showResults({ results: [], more: false, total: data.total });
            }).catch(failed);
        });
        clear.addEventListener('click', function () {
            chosen.clear();
            store();
            renderChosen();
            refreshResults();
        });

        renderChosen();
        search(false).then(showResults).catch(function () {});
    }

    function initAll() {
        document.querySelectorAll('[data-client-picker]').forEach(init);
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', initAll);
    } else {
        initAll();
    }
})();
