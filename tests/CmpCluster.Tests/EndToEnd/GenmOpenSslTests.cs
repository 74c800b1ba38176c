using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// genm with the real OpenSSL client (<c>openssl cmp -cmd genm -infotype …</c>; OpenSSL 3.0 knows caCerts and
/// certReqTemplate by name): a protected genp with the requested ITAV, whose content is checked from <c>-rspout</c>.
/// </summary>
public sealed class GenmOpenSslTests(NodeFixture fixture) : IClassFixture<NodeFixture>
{
    private NodeProcess Node => fixture.Node;

    private Task<OpenSslResult> GenmAsync(TempDirectory dir, string infoType, string responseFile) =>
        OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "genm", "-server", Node.Server, "-path", ".well-known/cmp/p/ra",
            "-ref", "ra", "-secret", "pass:changeit", "-infotype", infoType, "-trusted", Node.RootCaPath, "-rspout", responseFile);

    [Fact]
    public async Task CaCerts_returns_the_node_CA_chain()
    {
        using var dir = new TempDirectory("genm-cacerts");

        OpenSslResult genm = await GenmAsync(dir, "caCerts", "genp.der");

        E2e.Succeeded(genm, Node);
        E2e.OutputContains(genm, "genp contains ITAV of type: id-it-caCerts", Node);
        CmpResponseView genp = E2e.ReadSaved(dir.File("genp.der"), Node);
        InfoTypeAndValue answer = Assert.Single(genp.GeneralInfo);
        byte[][] certificates = Asn1Sequence.GetInstance(answer.InfoValue).Cast<Asn1Encodable>()
            .Select(c => CmpCertificate.GetInstance(c).X509v3PKCert.GetEncoded(Asn1Encodable.Der)).ToArray();
        Assert.Equal([E2e.DerOfPem(Node.IssuingCaPath), E2e.DerOfPem(Node.RootCaPath)], certificates);
    }

    [Fact]
    public async Task CertReqTemplate_and_an_unknown_type_are_answered()
    {
        using var dir = new TempDirectory("genm-template");

        OpenSslResult template = await GenmAsync(dir, "certReqTemplate", "template.der");
        OpenSslResult other = await GenmAsync(dir, "signKeyPairTypes", "other.der");

        E2e.Succeeded(template, Node);
        E2e.OutputContains(template, "genp contains ITAV of type: id-it-certReqTemplate", Node);
        CertReqTemplateContent content = CertReqTemplateContent.GetInstance(Assert.Single(E2e.ReadSaved(dir.File("template.der"), Node).GeneralInfo).InfoValue);
        Assert.NotNull(content.CertTemplate.Extensions);
        E2e.Succeeded(other, Node);
        E2e.OutputContains(other, "genp contains no ITAV", Node);
    }
}
