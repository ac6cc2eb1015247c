/*
 * eval_plot.c: the failure predictor's evaluation drawn: risk over time as
 * SVG, one panel per series; see eval_plot_svg() in evaluate.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/common.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>

#include "pfm/evaluate.h"
#include "pfm/evaluate_int.h"

#define SVG_W        960         /* the document's width */
#define SVG_LEFT     48          /* room for the score ticks */
#define SVG_RIGHT    16
#define SVG_TOP      56          /* the title and the legend */
#define PANEL_H      110         /* the plot area of a panel */
#define PANEL_GAP    48          /* the time ticks and the next panel's title */
#define PLOT_W       (SVG_W - SVG_LEFT - SVG_RIGHT)

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = *s;
        switch (c) {
        case '<':  fputs("&lt;", f);   break;
        case '>':  fputs("&gt;", f);   break;
        case '&':  fputs("&amp;", f);  break;
        case '"':  fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            /* XML 1.0 has no other control characters, not even escaped */
            fputc(c < 0x20 && c != '\t' && c != '\n' && c != '\r' ? '?' : c, f);
        }
    }
}

/* Runs of ticks at or above the threshold: what the panel order counts. */
static int count_runs(const EvalSeries *e, double threshold)
{
    int runs = 0, on = 0;

    for (int i = 0; i < e->n; i++) {
        if (isnan(e->score[i]))
            continue;
        runs += !on && e->score[i] >= threshold;
        on = e->score[i] >= threshold;
    }
    return runs;
}

typedef struct PanelOrder {
    int index, failures, alarms;
} PanelOrder;

/* series with failures first, then the most alarms, then as given */
static int cmp_panel(const void *a, const void *b)
{
    const PanelOrder *x = a, *y = b;

    if ((x->failures > 0) != (y->failures > 0))
        return y->failures > 0 ? 1 : -1;
    if (x->alarms != y->alarms)
        return y->alarms - x->alarms;
    return x->index - y->index;
}

/* A step of 1, 2 or 5 times a power of ten, giving at most about 6 ticks. */
static double nice_step(double span)
{
    double raw = span / 6, mag, r;

    if (!(raw > 0))
        return 1;
    mag = pow(10, floor(log10(raw)));
    r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

typedef struct Panel {
    FILE *f;
    double top;                  /* y of the plot area's top */
    int64_t t0;
    double us_per_px;
} Panel;

static double px_x(const Panel *p, int64_t t)
{
    return SVG_LEFT + (t - p->t0) / p->us_per_px;
}

static double px_y(const Panel *p, double score)
{
    score = score < 0 ? 0 : score > 1 ? 1 : score;
    return p->top + (1 - score) * PANEL_H;
}

/* One pixel column of the score line: its first, lowest, highest and last
 * points, which is all a pixel can show. */
typedef struct Column {
    int n;
    int idx[4];                  /* tick index of first, min, max, last */
    double x[4], y[4];
} Column;

static void column_add(Column *c, int i, double x, double y)
{
    if (!c->n) {
        for (int k = 0; k < 4; k++) {
            c->idx[k] = i;
            c->x[k] = x;
            c->y[k] = y;
        }
    } else {
        int k = y < c->y[1] ? 1 : y > c->y[2] ? 2 : -1;
        if (k > 0) {
            c->idx[k] = i;
            c->x[k] = x;
            c->y[k] = y;
        }
        c->idx[3] = i;
        c->x[3] = x;
        c->y[3] = y;
    }
    c->n++;
}

static void column_flush(FILE *f, Column *c)
{
    int order[4] = { 0, 1, 2, 3 }, last = -1;

    if (!c->n)
        return;
    if (c->idx[2] < c->idx[1])
        FFSWAP(int, order[1], order[2]);
    for (int k = 0; k < 4; k++) {
        int j = order[k];
        if (c->idx[j] == last)
            continue;            /* the same tick twice */
        fprintf(f, " %.1f,%.1f", c->x[j], c->y[j]);
        last = c->idx[j];
    }
    c->n = 0;
}

/* The score as polylines, one per stretch of scored ticks. Within a pixel
 * column only four points are kept, so that a day of ticks costs a few
 * thousand points and the line looks the same. */
static void plot_score(const Panel *p, const EvalSeries *e)
{
    Column c = { 0 };
    int open = 0, col = 0;

    for (int i = 0; i <= e->n; i++) {
        double x, y;

        if (i == e->n || isnan(e->score[i])) {
            column_flush(p->f, &c);
            if (open)
                fprintf(p->f, "\"/>\n");
            open = 0;
            continue;
        }
        x = px_x(p, e->time_us[i]);
        y = px_y(p, e->score[i]);
        if (!open) {
            fprintf(p->f, "<polyline class=\"score\" points=\"");
            open = 1;
        } else if ((int)x != col) {
            column_flush(p->f, &c);
        }
        col = (int)x;
        column_add(&c, i, x, y);
    }
}

static void plot_panel(Panel *p, const EvalSeries *e, double threshold, int failures, int alarms)
{
    FILE *f = p->f;
    int64_t t1 = e->time_us[e->n - 1];
    double span_min = (t1 - p->t0) / 60e6, step = nice_step(span_min);
    int on = 0;
    int64_t on_from = 0;

    fprintf(f, "<g>\n<text class=\"name\" x=\"%d\" y=\"%.1f\">", SVG_LEFT, p->top - 6);
    xml_text(f, e->name ? e->name : "(unnamed)");
    fprintf(f, "</text>\n<text class=\"note\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">"
            "%d failure%s, %d alarm%s</text>\n", SVG_W - SVG_RIGHT, p->top - 6,
            failures, failures == 1 ? "" : "s", alarms, alarms == 1 ? "" : "s");
    fprintf(f, "<rect class=\"frame\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%d\"/>\n",
            SVG_LEFT, p->top, PLOT_W, PANEL_H);

    /* alarm spans under everything else: from the first alarmed tick to the
     * tick that ends the run (at least a pixel wide) */
    for (int i = 0; i <= e->n; i++) {
        int alarmed = i < e->n && !isnan(e->score[i]) && e->score[i] >= threshold;
        if (i < e->n && isnan(e->score[i]))
            continue;
        if (alarmed && !on)
            on_from = e->time_us[i];
        if (!alarmed && on) {
            double x0 = px_x(p, on_from), x1 = px_x(p, e->time_us[i < e->n ? i : e->n - 1]);
            fprintf(f, "<rect class=\"alarm\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%d\"/>\n",
                    x0, p->top, FFMAX(x1 - x0, 1.0), PANEL_H);
        }
        on = alarmed;
    }

    /* axes: score at 0, 0.5, 1; time in minutes from the first tick */
    for (int k = 0; k <= 2; k++)
        fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                SVG_LEFT - 4, px_y(p, k / 2.0) + 4, k / 2.0);
    for (int k = 0; k * step <= span_min * (1 + 1e-9); k++) {
        double x = SVG_LEFT + k * step * 60e6 / p->us_per_px;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                x, p->top + PANEL_H, x, p->top + PANEL_H + 4);
        fprintf(f, "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                x, p->top + PANEL_H + 16, k * step);
    }
    fprintf(f, "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">min</text>\n",
            SVG_W - SVG_RIGHT, p->top + PANEL_H + 16);

    if (threshold >= 0 && threshold <= 1)
        fprintf(f, "<line class=\"threshold\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n",
                SVG_LEFT, px_y(p, threshold), SVG_W - SVG_RIGHT, px_y(p, threshold));
    plot_score(p, e);
    for (int k = 0; k < e->nb_failures; k++) {
        int64_t t = e->failure_us[k];
        if (t < p->t0 || t > t1)
            continue;            /* outside the panel's time */
        fprintf(f, "<line class=\"failure\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                px_x(p, t), p->top, px_x(p, t), p->top + PANEL_H);
    }
    fprintf(f, "</g>\n");
}

static void plot_legend(FILE *f, double y)
{
    double x = SVG_LEFT;

    fprintf(f, "<g class=\"legend\">\n");
    fprintf(f, "<line class=\"score\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>"
            "<text class=\"tick\" x=\"%.0f\" y=\"%.1f\">risk score</text>\n",
            x, y - 4, x + 24, y - 4, x + 30, y);
    x += 120;
    fprintf(f, "<line class=\"threshold\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>"
            "<text class=\"tick\" x=\"%.0f\" y=\"%.1f\">threshold</text>\n",
            x, y - 4, x + 24, y - 4, x + 30, y);
    x += 110;
    fprintf(f, "<line class=\"failure\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>"
            "<text class=\"tick\" x=\"%.0f\" y=\"%.1f\">failure</text>\n",
            x + 8, y - 12, x + 8, y + 2, x + 16, y);
    x += 90;
    fprintf(f, "<rect class=\"alarm\" x=\"%.0f\" y=\"%.1f\" width=\"16\" height=\"12\"/>"
            "<text class=\"tick\" x=\"%.0f\" y=\"%.1f\">alarm (score &gt;= threshold)</text>\n",
            x, y - 10, x + 22, y);
    fprintf(f, "</g>\n");
}

static int write_svg(FILE *f, const EvalSeries *s, const PanelOrder *ord, int np,
                     double threshold, const char *title)
{
    int height = SVG_TOP + np * (PANEL_H + PANEL_GAP) + 8;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", SVG_W, height, SVG_W, height);
    fprintf(f, "<style>\n"
            "text{font-size:11px;fill:#222}\n"
            ".title{font-size:15px;font-weight:bold}\n"
            ".name{font-size:12px;font-weight:bold}\n"
            ".note{fill:#666}\n"
            ".frame{fill:none;stroke:#999;stroke-width:1}\n"
            ".grid{stroke:#999;stroke-width:1}\n"
            ".score{fill:none;stroke:#1f5fa8;stroke-width:1.2;stroke-linejoin:round}\n"
            ".threshold{stroke:#555;stroke-width:1;stroke-dasharray:5,4}\n"
            ".failure{stroke:#d62728;stroke-width:1.5}\n"
            ".alarm{fill:#ffd9a8;fill-opacity:0.7;stroke:none}\n"
            "</style>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text class=\"title\" x=\"%d\" y=\"20\">", SVG_LEFT);
    xml_text(f, title ? title : "risk over time");
    fprintf(f, " (threshold %.4g)</text>\n", threshold);
    plot_legend(f, 40);
    for (int k = 0; k < np; k++) {
        const EvalSeries *e = &s[ord[k].index];
        Panel p = { f, SVG_TOP + k * (PANEL_H + PANEL_GAP) + 18, 0, 1 };
        if (e->n) {
            p.t0 = e->time_us[0];
            p.us_per_px = FFMAX((double)(e->time_us[e->n - 1] - p.t0), 1.0) / PLOT_W;
            plot_panel(&p, e, threshold, ord[k].failures, ord[k].alarms);
        }
    }
    fprintf(f, "</svg>\n");
    return ferror(f) ? AVERROR(EIO) : 0;
}

int eval_plot_svg(const char *path, const EvalSeries *s, int nb, double threshold,
                  int max_panels, const char *title)
{
    PanelOrder *ord = NULL;
    char *tmp = NULL;
    FILE *f = NULL;
    int np = 0, ret;

    if (!path || max_panels < 1 || isnan(threshold))
        return AVERROR(EINVAL);
    if ((ret = eval_check_series(s, nb)) < 0)
        return ret;
    if (!(ord = av_malloc_array(FFMAX(nb, 1), sizeof(*ord))) ||
        !(tmp = av_asprintf("%s.tmp", path))) {
        ret = AVERROR(ENOMEM);
        goto end;
    }
    /* series without ticks have nothing to draw */
    for (int k = 0; k < nb; k++)
        if (s[k].n > 0)
            ord[np++] = (PanelOrder){ k, s[k].nb_failures, count_runs(&s[k], threshold) };
    qsort(ord, np, sizeof(*ord), cmp_panel);
    np = FFMIN(np, max_panels);

    if (!(f = fopen(tmp, "w"))) {
        ret = AVERROR(errno);
        goto end;
    }
    ret = write_svg(f, s, ord, np, threshold, title);
    if (fclose(f) && ret >= 0)
        ret = AVERROR(errno);
    if (ret >= 0 && rename(tmp, path))
        ret = AVERROR(errno);
    if (ret < 0)
        unlink(tmp);
end:
    av_free(tmp);
    av_free(ord);
    return ret;
}
