/**
 * The analytics view: sessions over time, average duration, score distribution and
 * question categories, drawn from `GET /api/interview/analytics`.
 * @module review-analytics
 */

import { api, failureText } from "./review-api.js";
import { barChart, lineChart } from "./review-charts.js";
import { formatDuration } from "./review-dom.js";

/**
 * @param {{from?: string, to?: string}} window dates (YYYY-MM-DD), the server's default (30 days) when absent
 * @param {HTMLElement} charts where the figures go
 * @param {HTMLElement} summary a sentence with the totals
 * @returns {Promise<string | null>} null, or why nothing could be shown
 */
export async function showAnalytics(window, charts, summary) {
  const result = await api("/api/interview/analytics", { query: window });
  if (!result.ok) return failureText(result);
  const report = result.body;
  const days = report.daily.map((day) => day.date.slice(5));
  const timed = report.daily.filter((day) => day.averageDurationSeconds != null);
  summary.textContent =
    `${report.totalSessions} session(s) from ${report.from.slice(0, 10)} to ${report.to.slice(0, 10)}, ` +
    `${report.completedSessions} completed (${Math.round(report.completionRate * 100)} %), ` +
    `average duration ${formatDuration(report.averageDurationSeconds)}, ` +
    `${report.scoredSessions} scored, average score ${report.averageScore == null ? "–" : report.averageScore.toFixed(1)}.`;
  charts.replaceChildren(
    barChart({
      id: "chart-sessions",
      title: "Sessions per day",
      description: `Sessions started each day: ${report.daily.map((d) => `${d.date} ${d.total}`).join(", ") || "none"}.`,
      labels: days,
      values: report.daily.map((day) => day.total),
      unit: "sessions",
    }),
    lineChart({
      id: "chart-duration",
      title: "Average duration of completed sessions",
      description: `Mean active minutes per day: ${timed.map((d) => `${d.date} ${(d.averageDurationSeconds / 60).toFixed(1)}`).join(", ") || "none"}.`,
      labels: timed.map((day) => day.date.slice(5)),
      values: timed.map((day) => day.averageDurationSeconds / 60),
      unit: "minutes",
    }),
    barChart({
      id: "chart-scores",
      title: "Final score distribution",
      description: `Scored sessions by final score: ${report.scoreDistribution.map((b) => `${b.from}-${b.to} ${b.count}`).join(", ")}.`,
      labels: report.scoreDistribution.map((bucket) => `${bucket.from}–${bucket.to}`),
      values: report.scoreDistribution.map((bucket) => bucket.count),
      unit: "sessions",
    }),
    barChart({
      id: "chart-categories",
      title: "Question categories asked",
      description: `Questions asked by category: ${report.questionCategories.map((c) => `${c.category} ${c.count}`).join(", ") || "none"}.`,
      labels: report.questionCategories.map((category) => category.category),
      values: report.questionCategories.map((category) => category.count),
      unit: "questions",
    }),
  );
  return null;
}
