using System.Text.RegularExpressions;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// What an operator watches: Prometheus metrics by alias, body type, outcome and failInfo, and a diagnostic id
/// that a refused device shows in its CMP error and the operator finds in the node's summary log event.
/// </summary>
public sealed partial class TelemetryTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task A_refused_device_reports_a_diagnostic_id_that_the_summary_log_and_metrics_explain()
    {
        using var dir = new TempDirectory("telemetry");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        E2e.Succeeded(await new CmpEnrollment { Subject = "/CN=telemetry-ok/O=Example" }.RunAsync(Node, dir.Path), Node);

        OpenSslResult refused = await new CmpEnrollment { Subject = "/CN=telemetry-refused/O=Example", Secret = "wrong", CertOut = "refused.pem" }
            .RunAsync(Node, dir.Path);

        E2e.Failed(refused, Node);
        Match id = DiagnosticId().Match(refused.Output);
        Assert.True(id.Success, $"no diagnostic id in the CMP error\n{refused}");
        string summary = Node.Output.Split('\n').FirstOrDefault(line => line.Contains("diagnostic=" + id.Groups[1].Value, StringComparison.Ordinal)) ?? "";
        Assert.Contains("body=Ir outcome=rejected detail=BadMessageCheck", summary);
        Assert.DoesNotContain("wrong", summary);

        string metrics = await ScrapeAsync(text => text.Contains("fail_info=\"BadMessageCheck\"", StringComparison.Ordinal));
        Assert.Matches(@"cmp_requests_total\{[^}]*alias=""ra"",body=""Ir"",fail_info=""none"",outcome=""ok""\} [1-9]", metrics);
        Assert.Matches(@"cmp_requests_total\{[^}]*alias=""ra"",body=""Ir"",fail_info=""BadMessageCheck"",outcome=""rejected""\} 1", metrics);
        Assert.Matches(@"cmp_certificates_issued_total\{[^}]*ca=""issuing"",profile=""default""\} [1-9]", metrics);
        Assert.Matches(@"cmp_signing_duration_milliseconds_count\{[^}]*key=""issuing"",operation=""certificate""\} [1-9]", metrics);
        Assert.Contains("cmp_request_duration_milliseconds_bucket", metrics);
        Assert.Matches(@"cmp_http_requests_total\{[^}]*alias=""ra"",status=""200""\} [1-9]", metrics);
        Assert.Contains("orleans_catalog_activations", metrics);
        Assert.Contains("orleans_storage_write_latency_milliseconds_bucket", metrics);
        // Orleans' per-message instruments are not recorded (gateway/Telemetry/CmpTelemetry.cs, OrleansInstruments).
        Assert.DoesNotContain("orleans_messaging_sent_messages_size", metrics);
        Assert.DoesNotContain("orleans_messaging_processing_activation_data", metrics);
        Assert.DoesNotContain("orleans_app_requests_latency", metrics);
    }

    [Fact]
    public async Task Every_metric_the_grafana_dashboard_queries_is_exported_by_the_node()
    {
        using var dir = new TempDirectory("telemetry-dashboard");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        E2e.Succeeded(await new CmpEnrollment { Subject = "/CN=telemetry-dashboard/O=Example" }.RunAsync(Node, dir.Path), Node);
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "rr", "-server", Node.Server, "-path", ".well-known/cmp/p/ra",
            "-ref", "ra", "-secret", "pass:changeit", "-oldcert", "cert.pem", "-revreason", "5", "-trusted", Node.RootCaPath), Node);
        string dashboard = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "deploy", "grafana", "cmpcluster-dashboard.json"));
        string[] queried = MetricName().Matches(dashboard).Select(m => m.Value).Distinct().ToArray();
        Assert.NotEmpty(queried);

        // The exporter caches a scrape briefly (the other test may just have scraped): poll until the new series show.
        string metrics = await ScrapeAsync(text => queried.All(m => text.Contains("\n" + m, StringComparison.Ordinal)));

        foreach (string metric in queried)
        {
            Assert.True(metrics.Contains("\n" + metric, StringComparison.Ordinal), $"the dashboard queries {metric}, which the node does not export");
        }
    }

    /// <summary>GET /metrics on the management listener until <paramref name="complete"/> holds or 15 s pass (then the last
    /// scrape, for the asserts to explain).</summary>
    private async Task<string> ScrapeAsync(Func<string, bool> complete)
    {
        using HttpClient http = Node.CreateManagementClient();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string metrics = await http.GetStringAsync("metrics");
        while (!complete(metrics) && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(250);
            metrics = await http.GetStringAsync("metrics");
        }
        return metrics;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Cluster.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\b(cmp|orleans|dotnet)_[a-z_]+(_total|_bucket|_activations)\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"diagnostic id ([0-9a-f]{16,32})")]
    private static partial Regex DiagnosticId();
}
