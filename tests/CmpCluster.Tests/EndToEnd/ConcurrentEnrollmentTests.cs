using System.Security.Cryptography.X509Certificates;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Several openssl clients at once against one node: every one is served, confirmed, and gets its own serial.</summary>
public sealed class ConcurrentEnrollmentTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private const int Clients = 8;

    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Concurrent_enrollments_all_succeed_with_distinct_serials()
    {
        using var dir = new TempDirectory("concurrent");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult[] results = await Task.WhenAll(Enumerable.Range(0, Clients).Select(i => new CmpEnrollment
        {
            Subject = $"/CN=e2e-concurrent-{i}",
            CertOut = $"cert{i}.pem",
        }.RunAsync(Node, dir.Path)));

        var serials = new HashSet<string>();
        for (int i = 0; i < Clients; i++)
        {
            E2e.Succeeded(results[i], Node);
            E2e.OutputContains(results[i], "received PKICONF", Node);
            await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File($"cert{i}.pem"), key, [("2.5.4.3", $"e2e-concurrent-{i}")]);
            using X509Certificate2 certificate = E2e.LoadCertificate(dir.File($"cert{i}.pem"));
            serials.Add(E2e.SerialHex(certificate));
        }
        Assert.Equal(Clients, serials.Count);
    }
}
