using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>Flow 1: <c>openssl cmp -cmd ir</c> with PasswordBasedMac against the shipped <c>ra</c> alias.</summary>
public sealed class PbmInitialRequestTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private static readonly (string, string)[] Subject = [("2.5.4.3", "e2e-device"), ("2.5.4.10", "Example")];

    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Ir_with_pbm_is_confirmed_and_issues_a_certificate_from_the_issuing_ca()
    {
        using var dir = new TempDirectory("ir");
        string key = await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment().RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        E2e.OutputContains(result, "received IP", Node);
        E2e.OutputContains(result, "sending CERTCONF", Node);
        E2e.OutputContains(result, "received PKICONF", Node);
        // OpenSSL 3.0's cmp app writes its whole log (info and errors) to stdout, not stderr.
        Assert.Contains("received PKICONF", result.Stdout);
        await E2e.AssertIssuedByNodeAsync(Node, dir.Path, dir.File("cert.pem"), key, Subject);
    }

    [Fact]
    public async Task Ir_responses_are_mac_protected_with_the_alias_secret_and_carry_the_root_in_caPubs()
    {
        using var dir = new TempDirectory("ir-rsp");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment { ResponsesOut = "ip.der,pkiconf.der" }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        var session = new CmpClientSession("changeit", "ra");
        CmpResponseView ip = E2e.ReadSaved(dir.File("ip.der"), Node);
        Assert.Equal(PkiBodyType.Ip, ip.BodyType);
        Assert.False(ip.ImplicitConfirmGranted);
        Assert.True(session.VerifyMac(File.ReadAllBytes(dir.File("ip.der"))), "ip is not MAC-protected with the ra secret");
        Assert.Equal(E2e.DerOfPem(dir.File("cert.pem")), ip.CertificateDer);
        Assert.Contains(ip.CaPubs, c => c.AsSpan().SequenceEqual(E2e.DerOfPem(Node.RootCaPath)));

        CmpResponseView pkiConf = E2e.ReadSaved(dir.File("pkiconf.der"), Node);
        Assert.Equal(PkiBodyType.PkiConf, pkiConf.BodyType);
        Assert.True(session.VerifyMac(File.ReadAllBytes(dir.File("pkiconf.der"))), "pkiConf is not MAC-protected with the ra secret");
        Assert.Equal(ip.TransactionId, pkiConf.TransactionId);
    }

    [Fact]
    public async Task Confirmed_certificate_is_recorded_as_confirmed_for_the_ra()
    {
        using var dir = new TempDirectory("ir-grain");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment().RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        using X509Certificate2 certificate = E2e.LoadCertificate(dir.File("cert.pem"));
        OrleansTestClient client = await fixture.ClientAsync();
        CertificateRecord? record = await client.CertificateAsync("issuing", E2e.SerialHex(certificate));
        Assert.NotNull(record);
        Assert.Equal(CertificateStatus.Confirmed, record.Status);
        Assert.Equal(certificate.RawData, record.Der);
        Assert.Equal("ra:ra", record.Intent.Owner);
        Assert.Equal("issuing", record.Intent.Ca);
    }

    [Fact]
    public async Task Two_enrollments_of_the_same_subject_get_different_serials()
    {
        using var dir = new TempDirectory("ir-twice");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult first = await new CmpEnrollment { CertOut = "first.pem" }.RunAsync(Node, dir.Path);
        OpenSslResult second = await new CmpEnrollment { CertOut = "second.pem" }.RunAsync(Node, dir.Path);

        E2e.Succeeded(first, Node);
        E2e.Succeeded(second, Node);
        using X509Certificate2 a = E2e.LoadCertificate(dir.File("first.pem"));
        using X509Certificate2 b = E2e.LoadCertificate(dir.File("second.pem"));
        Assert.NotEqual(a.SerialNumber, b.SerialNumber);
        // at least 64 random bits; 16 positive bytes in practice.
        Assert.True(E2e.SerialHex(a).Length >= 16, $"serial {a.SerialNumber} is shorter than 64 bits");
    }

    [Fact]
    public async Task Subject_alt_names_from_the_request_are_copied()
    {
        using var dir = new TempDirectory("ir-san");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult result = await new CmpEnrollment
        {
            Subject = "/CN=e2e-san",
            Extra = ["-sans", "device.example.com,10.0.0.1"],
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(result, Node);
        using X509Certificate2 certificate = E2e.LoadCertificate(dir.File("cert.pem"));
        X509SubjectAlternativeNameExtension san = Assert.Single(certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["device.example.com"], san.EnumerateDnsNames());
        Assert.Equal([System.Net.IPAddress.Parse("10.0.0.1")], san.EnumerateIPAddresses());
    }
}
