using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Cluster;

/// <summary>
/// A CA created through one silo's admin API is served by the other silo without a restart: it lists it and issues from
/// it to the real <c>openssl cmp</c> client (KeyID alias), from the shared data directory (grains/Pki/RecordedCas.cs).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RecordedCaClusterTests(TestCluster cluster) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        if (cluster.Available)
        {
            await cluster.EnsureRunningAsync();
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [ClusterFact]
    public async Task A_ca_created_through_one_silo_is_listed_and_issues_on_the_other_without_a_restart()
    {
        string name = "fleet-" + Guid.NewGuid().ToString("N")[..6];
        using HttpClient first = Client(0), second = Client(1);
        using HttpResponseMessage created = await first.PostAsync("/api/v1/cas", JsonContent(new JsonObject { ["name"] = name }));
        Assert.True((int)created.StatusCode == 201, await created.Content.ReadAsStringAsync() + cluster.Diagnostics());

        JsonArray cas = JsonNode.Parse(await second.GetStringAsync("/api/v1/cas"))!.AsArray();
        Assert.Contains(cas, c => (string?)c!["name"] == name);
        using var dir = new TempDirectory("cluster-recorded-ca");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        string folder = Path.Combine(cluster.DataDirectory, "pki-" + name);
        Uri silo = cluster.SiloUri(1);
        OpenSslResult enrolled = await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "ir", "-server", $"{silo.Host}:{silo.Port}", "-path", "cmp/bykeyid",
            "-ref", name, "-secret", "pass:" + TestCluster.RaSecret, "-newkey", "key.pem", "-subject", "/CN=fleet-device/O=Example",
            "-certout", "cert.pem", "-trusted", Path.Combine(folder, "root-ca.pem"));
        Assert.True(enrolled.Succeeded, enrolled + cluster.Diagnostics());
        OpenSslResult verified = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", Path.Combine(folder, "root-ca.pem"),
            "-untrusted", Path.Combine(folder, "issuing-ca.pem"), "cert.pem");
        Assert.True(verified.Succeeded, verified.ToString());
    }

    private HttpClient Client(int silo)
    {
        var client = new HttpClient { BaseAddress = cluster.SiloManagementUri(silo), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestCluster.AdminToken);
        return client;
    }

    private static StringContent JsonContent(JsonNode body) => new(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
}
