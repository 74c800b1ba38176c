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
        new[] { "--scenario", "revoke", "--pool", "400" },
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
