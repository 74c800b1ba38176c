using CmpCluster.Contracts;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>The node as a process: its client port, and what an outside Orleans client can do through it.</summary>
public sealed class ClientPortTests
{
    [Fact]
    public async Task The_single_node_default_opens_no_orleans_client_port()
    {
        await using NodeProcess node = await NodeProcess.StartAsync([NodeProcess.DefaultClientPort]);
        // CMP works (the gateway is in the process) ...
        using HttpClient http = node.CreateHttpClient();
        Assert.Equal("ok", await http.GetStringAsync("health"));
        // ... but no Orleans client gets in, on the port a test node would otherwise open or on Orleans' default.
        await Assert.ThrowsAnyAsync<Exception>(() => OrleansTestClient.ConnectAsync(node.GatewayPort, NodeProcess.ServiceId, NodeProcess.ClusterId, TimeSpan.FromSeconds(3)));
        Assert.DoesNotContain("30000", node.Output);
    }

    [Fact]
    public async Task A_client_on_an_opened_port_cannot_make_a_key_sign_or_change_a_certificate()
    {
        await using NodeProcess node = await NodeProcess.StartAsync();
        await using OrleansTestClient client = await node.ConnectClientAsync();
        string key = GrainKeys.Certificate("issuing", "7F0102");
        var intent = new CertificateIntent("issuing", "7F0102", "CN=forged", "forger", "forged/1", DateTimeOffset.UtcNow);

        await Assert.ThrowsAnyAsync<Exception>(() => client.Client.GetGrain<ICertificateGrain>(key).IssueAsync(intent, [0x30, 0x00], true));
        await Assert.ThrowsAnyAsync<Exception>(() => client.Client.GetGrain<ICertificateGrain>(key)
            .RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "forged")));
        await Assert.ThrowsAnyAsync<Exception>(() => client.Client.GetGrain<ICertificateAuthorityGrain>("issuing").IssueCrlAsync());

        // The node says who it refused, and the admin facade (gateway-facing) still answers: nothing was issued.
        Assert.Contains("refused a call to silo-internal ICertificateGrain.IssueAsync", node.Output);
        Assert.Equal(AdminStatus.NotFound, (await client.Admin.GetCertificateAsync("issuing", "7F0102")).Status);
    }
}
