using System.Text.Json;
using CmpCluster.LoadTests;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.LoadTests;

/// <summary>
/// The load generator against a real node, in every scenario and both models: a short run (≈ 3 s) must finish by
/// itself with transactions, no errors, exit code 0, and a JSON report that parses. The generator runs in-process
/// through the same entry point as its executable.
/// </summary>
public sealed class LoadGeneratorTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    public static TheoryData<string[]> Runs => new()
    {
        new[] { "--scenario", "enroll" },
        new[] { "--scenario", "enroll-implicit" },
        new[] { "--scenario", "enroll", "--protection", "signature" },
        new[] { "--scenario", "renew" },
        // rr is fast (hundreds a second with two devices): the pool must outlast the 0.5 s warm-up, and --count ends the run.
        new[] { "--scenario", "revoke", "--pool", "1500", "--count", "200" },
        new[] { "--scenario", "device-lifecycle", "--mix", "enroll=50,renew=40,revoke=10", "--pool", "100" },
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public async Task A_closed_run_completes_without_errors_and_writes_its_report(string[] scenario)
    {
        JsonElement report = await RunAsync([.. scenario, "--concurrency", "2"]);

        Assert.Equal("closed", report.GetProperty("model").GetString());
        Assert.Equal(0, report.GetProperty("errors").GetInt64());
        Assert.True(report.GetProperty("transactions").GetInt64() > 0);
        Assert.True(report.GetProperty("latency").GetProperty("transaction").GetProperty("p99Ms").GetDouble() > 0);
    }

    [Fact]
    public async Task An_open_run_at_a_fixed_rate_ends_by_count_and_reports_percentiles()
    {
        JsonElement report = await RunAsync(["--scenario", "enroll-implicit", "--rate", "20", "--ramp", "0.5", "--max-in-flight", "8", "--count", "40"]);

        Assert.Equal("open", report.GetProperty("model").GetString());
        // --count bounds the measured arrivals of the open model: each one ran or was dropped at the in-flight cap.
        Assert.Equal(40, report.GetProperty("transactions").GetInt64() + report.GetProperty("dropped").GetInt64());
        Assert.True(report.GetProperty("transactions").GetInt64() > 0);
        Assert.Equal(0, report.GetProperty("errors").GetInt64());
        Assert.True(report.GetProperty("latency").GetProperty("ir").GetProperty("p50Ms").GetDouble() > 0);
    }

    [Fact]
    public async Task Samples_cover_the_whole_run_window_by_window_with_server_cpu_summed_over_the_pids()
    {
        string samples = Path.Combine(Path.GetTempPath(), $"loadgen-{Guid.NewGuid():N}.csv");
        try
        {
            // The generator's own process twice: a cluster's PIDs are summed the same way.
            int self = Environment.ProcessId;
            JsonElement report = await RunAsync(["--scenario", "enroll-implicit", "--concurrency", "2", "--samples", samples,
                "--sample-every", "0.5", "--server-pid", $"{self},{self}"]);

            string[] lines = await File.ReadAllLinesAsync(samples);
            Assert.Equal(LoadRun.SamplesHeader, lines[0]);
            string[][] rows = [.. lines.Skip(1).Select(line => line.Split(','))];
            int Column(string name) => Array.IndexOf(LoadRun.SamplesHeader.Split(','), name);
            Assert.True(rows.Length >= 4, string.Join('\n', lines)); // 3 s in 0.5 s windows (the last one shorter)
            Assert.Contains(rows, row => row[Column("phase")] == "warmup");
            Assert.Contains(rows, row => row[Column("phase")] == "measured");
            // Every transaction is in one window, warm-up included: at least the measured ones of the report.
            long sampled = rows.Sum(row => long.Parse(row[Column("transactions")], System.Globalization.CultureInfo.InvariantCulture));
            Assert.True(sampled >= report.GetProperty("transactions").GetInt64(), $"{sampled} sampled");
            Assert.All(rows.Where(row => row[Column("transactions")] != "0"), row =>
            {
                Assert.True(double.Parse(row[Column("p99_ms")], System.Globalization.CultureInfo.InvariantCulture) > 0);
                Assert.NotEqual("", row[Column("server_cpu_ms_per_tx")]);
            });
            Assert.True(report.GetProperty("serverCpuMsPerTransaction").GetDouble() > 0);
        }
        finally
        {
            File.Delete(samples);
        }
    }

    [Fact]
    public void Server_pids_are_a_comma_separated_list_and_repeatable()
    {
        LoadOptions options = LoadOptions.Parse(["--server-pid", "10,11", "--server-pid", "12"]);

        Assert.Equal([10, 11, 12], options.ServerPids);
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--server-pid", "10,x"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--sample-every", "0"]));
    }

    [Fact]
    public async Task A_bad_option_is_exit_code_2_with_the_usage()
    {
        var output = new StringWriter();
        var diagnostics = new StringWriter();

        Assert.Equal(2, await LoadCommand.RunAsync(["--scenario", "teleport"], output, diagnostics));
        Assert.Contains("unknown scenario teleport", diagnostics.ToString());
    }

    private async Task<JsonElement> RunAsync(string[] arguments)
    {
        string json = Path.Combine(Path.GetTempPath(), $"loadgen-{Guid.NewGuid():N}.json");
        var output = new StringWriter();
        var diagnostics = new StringWriter();
        try
        {
            int exit = await LoadCommand.RunAsync(
                [.. arguments, "--base-url", fixture.Node.BaseAddress.ToString(), "--warmup", "0.5", "--duration", "2.5", "--json", json, "--no-progress"],
                output, diagnostics);

            Assert.True(exit == 0, $"exit {exit}\n{output}\n{diagnostics}\n{fixture.Node.Diagnostics()}");
            Assert.Contains("| transaction |", output.ToString());
            return JsonDocument.Parse(await File.ReadAllTextAsync(json)).RootElement.Clone();
        }
        finally
        {
            File.Delete(json);
        }
    }
}
