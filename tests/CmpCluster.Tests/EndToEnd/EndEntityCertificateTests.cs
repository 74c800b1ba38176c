using CmpCluster.Contracts;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// EJBCA's CMP documentation, "EndEntityCertificate" with the real OpenSSL client (<c>-cert</c> / <c>-key</c>): in client mode an end entity
/// signs with a certificate of its own to get another; in RA mode only the certificates of the alias's RA
/// administrators may sign requests for others.
/// </summary>
public sealed class EndEntityCertificateTests
{
    private static readonly string[] Aliases =
    [
        "--Cmp:Aliases:client:Mode=Client", "--Cmp:Aliases:client:ResponseProtection=Pbe",
        "--Cmp:Aliases:client-cert:Mode=Client", "--Cmp:Aliases:client-cert:AuthenticationModules:0=EndEntityCertificate",
        "--Cmp:Aliases:ra-admin:AuthenticationModules:0=EndEntityCertificate", "--Cmp:Aliases:ra-admin:RaAdministrators:0=admin-1",
    ];

    [Fact]
    public async Task A_certificate_of_the_end_entity_authenticates_its_next_request_and_an_ra_administrator_signs_for_others()
    {
        await using NodeProcess node = await NodeProcess.StartAsync(Aliases);
        await using OrleansTestClient client = await node.ConnectClientAsync();
        using var dir = new TempDirectory("eecert");
        await RegisterAndEnrollAsync(node, client, dir, "gnb-0002", "CN=gnb-0002,O=Operator", "key.pem", "cert.pem");
        await RegisterAndEnrollAsync(node, client, dir, "admin-1", "CN=admin-1,O=Operator", "admin-key.pem", "admin-cert.pem");
        await OpenSsl.GenerateP256KeyAsync(dir.Path, "key2.pem");

        // Client mode: gnb-0002 renews with a cr signed by its current certificate; no code is needed.
        OpenSslResult renewal = await SignedRequestAsync(node, dir, "client-cert", "cert.pem", "key.pem", "/CN=gnb-0002/O=Operator", "cert2.pem");
        E2e.Succeeded(renewal, node);
        E2e.OutputContains(renewal, "received PKICONF", node);
        EndEntityView view = (await client.EndEntityAsync("gnb-0002"))!;
        Assert.Equal(2, view.CertificateKeys.Count);

        // Client mode: a certificate of another end entity does not authenticate gnb-0002.
        OpenSslResult foreign = await SignedRequestAsync(node, dir, "client-cert", "admin-cert.pem", "admin-key.pem", "/CN=gnb-0002/O=Operator", "cert3.pem");
        E2e.Failed(foreign, node);
        E2e.OutputContains(foreign, "notAuthorized", node);

        // RA mode: the administrator's certificate requests a certificate for a device nobody registered.
        OpenSslResult forOther = await SignedRequestAsync(node, dir, "ra-admin", "admin-cert.pem", "admin-key.pem", "/CN=site-77/O=Operator", "cert4.pem");
        E2e.Succeeded(forOther, node);
        E2e.OutputContains(forOther, "received PKICONF", node);

        // RA mode: a device certificate is not an administrator's.
        OpenSslResult notAdmin = await SignedRequestAsync(node, dir, "ra-admin", "cert.pem", "key.pem", "/CN=site-78/O=Operator", "cert5.pem");
        E2e.Failed(notAdmin, node);
        E2e.OutputContains(notAdmin, "notAuthorized", node);
    }

    private static async Task RegisterAndEnrollAsync(NodeProcess node, OrleansTestClient client, TempDirectory dir, string username, string subject, string key, string cert)
    {
        string code = "code-of-" + username;
        Assert.NotNull(await client.RegisterAsync(username, subject, code));
        await OpenSsl.GenerateP256KeyAsync(dir.Path, key);
        OpenSslResult enrolled = await new CmpEnrollment
        {
            Path = "cmp/client", Reference = username, Secret = code,
            Subject = "/" + subject.Replace(",", "/"), KeyFile = key, CertOut = cert,
        }.RunAsync(node, dir.Path);
        E2e.Succeeded(enrolled, node);
    }

    private static Task<OpenSslResult> SignedRequestAsync(NodeProcess node, TempDirectory dir, string alias, string cert, string key, string subject, string certOut) =>
        OpenSsl.RunAsync(dir.Path,
            "cmp", "-cmd", "cr", "-server", node.Server, "-path", "cmp/" + alias,
            "-cert", cert, "-key", key, "-newkey", "key2.pem", "-subject", subject,
            "-certout", certOut, "-trusted", node.RootCaPath, "-untrusted", node.IssuingCaPath);
}
