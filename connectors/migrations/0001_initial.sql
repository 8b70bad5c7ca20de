-- propstream schema v1: latest predictions, the prediction log, grades, dead letters, daily performance.

CREATE TABLE predictions_latest (
    model            text        NOT NULL,
    player_id        bigint      NOT NULL,
    game_key         text        NOT NULL,
    book             text        NOT NULL,
    market           text        NOT NULL,
    prediction_id    text        NOT NULL,
    game_date        date        NOT NULL,
    line             double precision NOT NULL,
    over_price       double precision NOT NULL,
    under_price      double precision,
    as_of            timestamptz NOT NULL,
    mean             double precision NOT NULL,
    sigma            double precision NOT NULL,
    p_over           double precision NOT NULL,
    p_under          double precision NOT NULL,
    p_push           double precision NOT NULL,
    market_p_over    double precision,
    edge             double precision,
    ev_over          double precision NOT NULL,
    ev_under         double precision,
    recommendation   text        NOT NULL,
    actionable       boolean     NOT NULL,
    reasons          text[]      NOT NULL,
    defaulted        text[]      NOT NULL,
    emitted_at       timestamptz,
    PRIMARY KEY (model, player_id, game_key, book, market)
);
CREATE INDEX predictions_latest_game_date ON predictions_latest (game_date);
-- by player: the primary key (model, player_id, ...) serves it, the dashboard always names the model
CREATE INDEX predictions_latest_edge ON predictions_latest (game_date, edge DESC NULLS LAST);

-- Every emitted prediction: the audit trail of what was known when.
CREATE TABLE predictions_log (LIKE predictions_latest INCLUDING DEFAULTS);
ALTER TABLE predictions_log ADD PRIMARY KEY (prediction_id);
CREATE INDEX predictions_log_game_date ON predictions_log (game_date, as_of);
CREATE INDEX predictions_log_prop ON predictions_log (player_id, game_key, book, as_of);

CREATE TABLE grades (
    model            text        NOT NULL,
    player_id        bigint      NOT NULL,
    game_key         text        NOT NULL,
    book             text        NOT NULL,
    market           text        NOT NULL,
    prediction_id    text        NOT NULL,
    game_date        date        NOT NULL,
    line             double precision NOT NULL,
    as_of            timestamptz NOT NULL,
    side             text        NOT NULL,
    recommendation   text        NOT NULL,
    actual           double precision,
    result           text        NOT NULL,
    profit           double precision NOT NULL,
    abs_error        double precision,
    p_over           double precision NOT NULL,
    market_p_over    double precision,
    emitted_at       timestamptz,
    PRIMARY KEY (model, player_id, game_key, book, market)
);
CREATE INDEX grades_game_date ON grades (game_date);
CREATE INDEX grades_player ON grades (player_id, game_date);

CREATE TABLE dead_letters (
    source      text    NOT NULL,
    partition   integer NOT NULL DEFAULT -1,
    "offset"    bigint  NOT NULL DEFAULT -1,
    rows        integer NOT NULL,
    reason      text    NOT NULL,
    detail      text    NOT NULL,
    original    text    NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, partition, "offset")
);
CREATE INDEX dead_letters_reason ON dead_letters (reason);

-- Performance per model and day, beside the market; a view, so it is always up to date.
CREATE VIEW model_performance_daily AS
SELECT
    model,
    game_date,
    count(*) FILTER (WHERE result <> 'VOID')                                     AS n_graded,
    count(*) FILTER (WHERE result <> 'VOID' AND recommendation <> 'PASS')        AS n_bets,
    avg((result = 'WIN')::int) FILTER (WHERE result IN ('WIN', 'LOSS'))          AS hit_rate,
    avg(power(p_over - (actual > line)::int, 2))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)   AS brier_model,
    avg(power(market_p_over - (actual > line)::int, 2))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)   AS brier_market,
    avg(-ln(CASE WHEN actual > line THEN greatest(least(p_over, 1 - 1e-6), 1e-6)
                 ELSE 1 - greatest(least(p_over, 1 - 1e-6), 1e-6) END))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)   AS logloss_model,
    avg(-ln(CASE WHEN actual > line THEN greatest(least(market_p_over, 1 - 1e-6), 1e-6)
                 ELSE 1 - greatest(least(market_p_over, 1 - 1e-6), 1e-6) END))
        FILTER (WHERE result IN ('WIN', 'LOSS') AND market_p_over IS NOT NULL)   AS logloss_market,
    avg(abs_error) FILTER (WHERE result <> 'VOID')                               AS mae_model,
    avg(abs(line - actual)) FILTER (WHERE result <> 'VOID')                      AS mae_line,
    sum(profit) FILTER (WHERE recommendation <> 'PASS')
        / nullif(count(*) FILTER (WHERE result <> 'VOID' AND recommendation <> 'PASS'), 0) AS roi
FROM grades
GROUP BY model, game_date;
