/* Client picker: search the server for the user's clients, keep the chosen ones as
 * selected <option>s of a hidden <select multiple>, so the form posts them as usual. */
(function () {
    'use strict';

    function init(root) {
        if (root.dataset.pickerReady) return;
        root.dataset.pickerReady = '1';
        var select = root.querySelector('select');
        var query = root.querySelector('[data-picker-query]');
        var results = root.querySelector('[data-picker-results]');
        var chosen = root.querySelector('[data-picker-chosen]');
        var summary = root.querySelector('[data-picker-summary]');
        var addAll = root.querySelector('[data-picker-add-all]');
        var searchUrl = root.dataset.searchUrl;
        var timer = null;
        var lastQuery = null;

        function has(id) {
            return !!select.querySelector('option[value="' + CSS.escape(String(id)) + '"]');
        }

        function text(tag, value, className) {
            var node = document.createElement(tag);
            node.textContent = value;
            if (className) node.className = className;
            return node;
        }

        function renderChosen() {
            chosen.replaceChildren();
            var options = select.querySelectorAll('option');
            options.forEach(function (option) {
                var item = text('li', option.textContent, 'client-picker__chip');
                var remove = text('button', '×', 'button button-small button-secondary');
                remove.type = 'button';
                remove.setAttribute('aria-label', (root.dataset.removeLabel || 'Remove') + ' ' + option.textContent);
                remove.addEventListener('click', function () {
                    option.remove();
                    renderChosen();
                });
                item.append(' ', remove);
                chosen.append(item);
            });
            summary.textContent = (root.dataset.chosenLabel || 'Chosen clients:') + ' ' + options.length;
        }

        function add(client) {
            if (has(client.id)) return;
            var option = document.createElement('option');
            option.value = client.id;
            option.selected = true;
            option.textContent = client.label;
            select.append(option);
        }

        function search(all) {
            var q = query.value.trim();
            var url = searchUrl + '?q=' + encodeURIComponent(q) + (all ? '&all=1' : '');
            return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
                .then(function (response) {
                    if (!response.ok) throw new Error(response.status);
                    return response.json();
                });
        }

        function showResults(data) {
            results.replaceChildren();
            data.results.forEach(function (client) {
                var item = document.createElement('li');
                var button = text('button', client.label, 'button button-small button-secondary');
                button.type = 'button';
                button.disabled = has(client.id);
                button.addEventListener('click', function () {
                    add(client);
                    button.disabled = true;
                    renderChosen();
                });
                item.append(button);
                results.append(item);
            });
            if (data.more) results.append(text('li', data.total + ' ' + (root.dataset.moreLabel || ''), 'help'));
            addAll.hidden = data.total === 0;
        }

        query.addEventListener('input', function () {
            clearTimeout(timer);
            timer = setTimeout(function () {
                if (query.value === lastQuery) return;
                lastQuery = query.value;
                search(false).then(showResults).catch(function () { results.replaceChildren(); });
            }, 200);
        });
        query.addEventListener('keydown', function (event) {
            if (event.key === 'Enter') event.preventDefault();
        });
        addAll.addEventListener('click', function () {
            search(true).then(function (data) {
                data.results.forEach(add);
                renderChosen();
                showResults({ results: [], more: false, total: data.total });
            });
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
