-- propstream schema v5 (issues 16 and 18): the model version that made each prediction (the
-- version active at its as_of), whether its game lies inside that version's training window
-- (`in_sample`: such a grade measures the fit, not the model), and the game's tip-off beside
-- each prediction (where the dashboard marks the close). Rows written before v5 have no version
-- (NULL), are not known to be in-sample (false) and have no tip-off (NULL).
ALTER TABLE predictions_latest ADD COLUMN model_version text;
ALTER TABLE predictions_latest ADD COLUMN in_sample boolean NOT NULL DEFAULT false;
ALTER TABLE predictions_latest ADD COLUMN tipoff timestamptz;
ALTER TABLE predictions_log ADD COLUMN model_version text;
ALTER TABLE predictions_log ADD COLUMN in_sample boolean NOT NULL DEFAULT false;
ALTER TABLE predictions_log ADD COLUMN tipoff timestamptz;
ALTER TABLE grades ADD COLUMN model_version text;
ALTER TABLE grades ADD COLUMN in_sample boolean NOT NULL DEFAULT false;

-- Performance per model and day from out-of-sample grades only (in-sample grades: `WHERE
-- in_sample` on grades).
CREATE OR REPLACE VIEW model_performance_daily AS
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
WHERE NOT in_sample
GROUP BY model, game_date;
