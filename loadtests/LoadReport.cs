using System.Text;
using HdrHistogram;

namespace CmpCluster.LoadTests;

public sealed record LoadReport(
    LoadOptions Options,
    long Transactions,
    TimeSpan Measured,
    IReadOnlyDictionary<string, HistogramBase> Latency,
    IReadOnlyDictionary<string, int> Errors,
    CpuSample ClientCpu,
    CpuSample? ServerCpu)
{
    public double TransactionsPerSecond => Transactions / Measured.TotalSeconds;

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine($"scenario {Options.Scenario}, {Options.Concurrency} devices, {Measured.TotalSeconds:F1} s measured after {Options.Warmup.TotalSeconds:F0} s warm-up, {Options.Url}");
        text.AppendLine();
        text.AppendLine($"| transactions | tx/s | server CPU ms/tx | client CPU ms/tx | errors |");
        text.AppendLine($"|---|---|---|---|---|");
        string server = ServerCpu is { } s && Transactions > 0 ? (s.Cpu.TotalMilliseconds / Transactions).ToString("F3") : "n/a";
        string client = Transactions > 0 ? (ClientCpu.Cpu.TotalMilliseconds / Transactions).ToString("F3") : "n/a";
        text.AppendLine($"| {Transactions} | {TransactionsPerSecond:F0} | {server} | {client} | {Errors.Values.Sum()} |");
        text.AppendLine();
        text.AppendLine("| latency (ms) | count | p50 | p90 | p99 | max |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach ((string name, HistogramBase histogram) in Latency.OrderBy(p => p.Key))
        {
            text.AppendLine($"| {name} | {histogram.TotalCount} | {Ms(histogram, 50)} | {Ms(histogram, 90)} | {Ms(histogram, 99)} | {histogram.GetMaxValue() / 1000.0:F2} |");
        }
        foreach ((string error, int count) in Errors.OrderByDescending(p => p.Value))
        {
            text.AppendLine($"error {count}x {error}");
        }
        return text.ToString();
    }

    private static string Ms(HistogramBase histogram, double percentile) => (histogram.GetValueAtPercentile(percentile) / 1000.0).ToString("F2");
}
