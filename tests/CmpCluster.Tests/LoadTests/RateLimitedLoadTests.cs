using System.Text.Json;
using CmpCluster.LoadTests;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.LoadTests;

/// <summary>
/// The load generator against a node with a tight per-address limit (<see cref="RateLimitedNodeFixture"/>), from its own
/// loopback address (<c>--source-address</c>): HTTP 429 answers are their own outcome in the report, not errors, and
/// the exit code says the run was not fully served.
/// </summary>
[Collection(RateLimitedNodeCollection.Name)]
public sealed class RateLimitedLoadTests(RateLimitedNodeFixture fixture)
{
    [Fact]
    public async Task A_run_over_the_address_limit_reports_429s_as_rate_limited()
    {
        const int attempts = 2 * RateLimitedNodeFixture.AddressTokens;
        string json = Path.Combine(Path.GetTempPath(), $"loadgen-ratelimit-{Guid.NewGuid():N}.json");
        var output = new StringWriter();
        var diagnostics = new StringWriter();
        try
        {
            // One request per transaction (ir with implicitConfirm); --count bounds the attempts, whatever the answers.
            int exit = await LoadCommand.RunAsync(
            [
                "--scenario", "enroll-implicit", "--concurrency", "2", "--count", attempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--warmup", "0", "--base-url", fixture.Node.BaseAddress.ToString(), "--source-address", "127.0.0.30",
                "--json", json, "--no-progress",
            ], output, diagnostics);

            Assert.True(exit == 1, $"exit {exit}\n{output}\n{diagnostics}\n{fixture.Node.Diagnostics()}");
            JsonElement report = JsonDocument.Parse(await File.ReadAllTextAsync(json)).RootElement;
            Assert.Equal(RateLimitedNodeFixture.AddressTokens, report.GetProperty("transactions").GetInt64());
            Assert.Equal(attempts - RateLimitedNodeFixture.AddressTokens, report.GetProperty("rateLimited").GetInt64());
            Assert.Equal(0, report.GetProperty("errors").GetInt64());
            Assert.Contains("| rate-limited (429) |", output.ToString());
        }
        finally
        {
            File.Delete(json);
        }
    }
}
