using CmpCluster.Contracts;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace CmpCluster.Tests.Cluster;

/// <summary>
/// Mutual TLS on the Orleans links of the Redis cluster: only a process holding a certificate of the cluster CA joins,
/// and even then, being a client and not a silo, it reaches only the gateway-facing interfaces.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterTlsTests(TestCluster cluster) : IAsyncLifetime
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
    public async Task A_client_with_the_cluster_certificate_joins_but_cannot_call_internal_grains()
    {
        (IHost host, IClusterClient client) = await cluster.ConnectClientAsync("client");
        using (host)
        {
            Assert.NotEmpty(await client.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync());
            await Assert.ThrowsAsync<InternalInterfaceException>(() =>
                client.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority("issuing")).IssueCrlAsync());
            await Assert.ThrowsAsync<InternalInterfaceException>(() =>
                client.GetGrain<ICertificateGrain>(GrainKeys.Certificate("issuing", "7F01")).IssueAsync(
                    new CertificateIntent("issuing", "7F01", "CN=forged", "forger", "forged/1", DateTimeOffset.UtcNow), [0x30, 0x00], true));
            await host.StopAsync();
        }
    }

    [ClusterFact]
    public async Task A_client_without_a_certificate_cannot_join()
    {
        await Assert.ThrowsAnyAsync<Exception>(() => cluster.ConnectClientAsync(tlsName: null, timeout: TimeSpan.FromSeconds(8)));
    }

    [ClusterFact]
    public async Task A_client_with_a_certificate_of_another_ca_cannot_join()
    {
        string foreign = Path.Combine(cluster.Root, "foreign-tls");
        await TestCluster.CreateClusterTlsAsync(foreign, "client");
        await Assert.ThrowsAnyAsync<Exception>(() => cluster.ConnectClientAsync("client", foreign, TimeSpan.FromSeconds(8)));
    }
}
