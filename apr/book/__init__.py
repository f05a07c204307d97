"""Book: building the chapters and the HTML, the status page, the scorecard, tables, plots and the paper's
reported numbers. Imports everything below it (data, method, evaluation, engine, experiments), never the CLI."""
