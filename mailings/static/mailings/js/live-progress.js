// A run's page while it runs: its status, progress bar and counts follow the run without a
// reload (mailings_attempts:progress answers them as JSON). When the run has ended the page
// loads itself once more, for its final deliveries table.
(function () {
    "use strict";
    const root = document.querySelector("[data-live-progress]");
    if (!root) {
        return;
    }
    const url = root.dataset.liveProgress;
    const every = 2000;
    const field = (name) => root.querySelector('[data-field="' + name + '"]');

    function show(state) {
        const status = field("status");
        if (status) {
            status.textContent = state.situation ? state.status + " · " + state.situation : state.status;
        }
        const bar = root.querySelector('[data-field="progress"] progress');
        if (bar) {
            bar.value = state.percent;
            bar.textContent = state.percent + "%";
            const label = root.querySelector("[data-progress-label]");
            if (label) {
                label.textContent = state.percent + "%";
            }
        }
        const counts = root.querySelector("[data-count-line]");
        if (counts) {
            counts.textContent = state.counts;
        }
        const response = field("server_response");
        if (response) {
            response.textContent = state.server_response;
        }
    }

    function poll() {
        fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
            .then((answer) => (answer.ok ? answer.json() : Promise.reject(answer.status)))
            .then((state) => {
                show(state);
                if (state.finished) {
                    window.location.reload();
                } else {
                    window.setTimeout(poll, every);
                }
            })
            .catch(() => window.setTimeout(poll, every * 3));
    }

    window.setTimeout(poll, every);
})();
