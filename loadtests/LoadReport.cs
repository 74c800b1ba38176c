using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using HdrHistogram;

namespace CmpCluster.LoadTests;

/// <summary>The outcome of a run: throughput, latency per message type, errors, CPU per transaction; as Markdown and JSON.</summary>
public sealed record LoadReport(
    LoadOptions Options,
    long Transactions,
    TimeSpan Measured,
    IReadOnlyDictionary<string, HistogramBase> Latency,
    IReadOnlyDictionary<string, int> Errors,
    long Dropped,
    long RateLimited,
    CpuSample ClientCpu,
    CpuSample? ServerCpu,
    string? StoppedEarly)
{
    public double TransactionsPerSecond => Measured > TimeSpan.Zero ? Transactions / Measured.TotalSeconds : 0;
    public long ErrorCount => Errors.Values.Sum();
    public double? ServerCpuMsPerTransaction => ServerCpu is { } s && Transactions > 0 ? s.Cpu.TotalMilliseconds / Transactions : null;
    public double? ClientCpuMsPerTransaction => Transactions > 0 ? ClientCpu.Cpu.TotalMilliseconds / Transactions : null;

    private string Model => Options.OpenModel
        ? F($"open model, {Options.Rate:0.#} tx/s offered (ramp {Options.Ramp.TotalSeconds:0.#} s), at most {Options.MaxInFlight} in flight")
        : F($"closed model, {Options.Concurrency} devices");

    private string ScenarioName => Options.Scenario switch
    {
        "enroll" when Options.Protection == Protection.Signature => "enroll (signature)",
        "device-lifecycle" => "device-lifecycle (" + string.Join(",", Options.Mix.Select(p => $"{p.Key}={p.Value}")) + ")",
        _ => Options.Scenario,
    };

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine(F($"scenario {ScenarioName}, {Model}, {Measured.TotalSeconds:F1} s measured after {Options.Warmup.TotalSeconds:0.#} s warm-up, {Options.Url ?? Options.BaseUrl}"));
        if (StoppedEarly is not null)
        {
            text.AppendLine().AppendLine("**" + StoppedEarly + "**");
        }
        text.AppendLine();
        text.AppendLine("| transactions | tx/s | server CPU ms/tx | client CPU ms/tx | errors | rate-limited (429) | dropped |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        text.AppendLine(F($"| {Transactions} | {TransactionsPerSecond:F0} | {Format(ServerCpuMsPerTransaction)} | {Format(ClientCpuMsPerTransaction)} | {ErrorCount} | {RateLimited} | {Dropped} |"));
        text.AppendLine();
        text.AppendLine("| latency (ms) | count | p50 | p90 | p99 | p99.9 | max |");
        text.AppendLine("|---|---|---|---|---|---|---|");
        foreach ((string name, HistogramBase histogram) in OrderedLatency())
        {
            text.AppendLine(F($"| {name} | {histogram.TotalCount} | {Ms(histogram, 50):F2} | {Ms(histogram, 90):F2} | {Ms(histogram, 99):F2} | {Ms(histogram, 99.9):F2} | {histogram.GetMaxValue() / 1000.0:F2} |"));
        }
        if (Errors.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("| error (message: answer failInfo) | count |");
            text.AppendLine("|---|---|");
            foreach ((string error, int count) in Errors.OrderByDescending(p => p.Value))
            {
                text.AppendLine(F($"| {error} | {count} |"));
            }
        }
        return text.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(new JsonReport(
        Options.Scenario, Options.Protection.ToString().ToLowerInvariant(), Options.OpenModel ? "open" : "closed",
        Options.OpenModel ? null : Options.Concurrency, Options.Rate, Options.OpenModel ? Options.Ramp.TotalSeconds : null,
        Options.OpenModel ? Options.MaxInFlight : null, Options.Scenario == "device-lifecycle" ? Options.Mix : null,
        Options.Url ?? Options.BaseUrl, Options.Warmup.TotalSeconds, Measured.TotalSeconds, Transactions, TransactionsPerSecond, ErrorCount, RateLimited, Dropped,
        ServerCpuMsPerTransaction, ClientCpuMsPerTransaction, StoppedEarly,
        OrderedLatency().ToDictionary(p => p.Key, p => new JsonLatency(
            p.Value.TotalCount, Ms(p.Value, 50), Ms(p.Value, 90), Ms(p.Value, 99), Ms(p.Value, 99.9), p.Value.GetMaxValue() / 1000.0, p.Value.GetMean() / 1000.0)),
        Errors), JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Messages in protocol order, then the whole transaction, then per-scenario transactions of a mix.</summary>
    private IEnumerable<KeyValuePair<string, HistogramBase>> OrderedLatency()
    {
        string[] order = ["ir", "kur", "rr", "certConf", "transaction"];
        return Latency.OrderBy(p => Array.IndexOf(order, p.Key) is >= 0 and var i ? i : order.Length).ThenBy(p => p.Key, StringComparer.Ordinal);
    }

    private static double Ms(HistogramBase histogram, double percentile) => histogram.GetValueAtPercentile(percentile) / 1000.0;

    private static string Format(double? value) => value is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "n/a";

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed record JsonLatency(long Count, double P50Ms, double P90Ms, double P99Ms, double P999Ms, double MaxMs, double MeanMs);

    private sealed record JsonReport(
        string Scenario, string Protection, string Model, int? Concurrency, double? Rate, double? RampSeconds, int? MaxInFlight,
        IReadOnlyDictionary<string, int>? Mix, string BaseUrl, double WarmupSeconds, double MeasuredSeconds, long Transactions,
        double TransactionsPerSecond, long Errors, long RateLimited, long Dropped, double? ServerCpuMsPerTransaction, double? ClientCpuMsPerTransaction,
        string? StoppedEarly, IReadOnlyDictionary<string, JsonLatency> Latency, IReadOnlyDictionary<string, int> ErrorsByKind);
}
