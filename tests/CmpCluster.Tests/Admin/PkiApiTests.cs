using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Admin;

/// <summary>CA downloads and certificate lookup, checked against the node's own files and a real openssl enrollment.</summary>
public sealed class PkiApiTests(AdminNodeFixture fixture) : IClassFixture<AdminNodeFixture>
{
    private NodeProcess Node => fixture.Node;

    [Fact]
    public async Task Ca_list_names_the_issuing_ca_with_links()
    {
        using HttpClient client = fixture.Client();
        JsonArray cas = (await Admin.JsonAsync(client, HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray();
        JsonNode issuing = Assert.Single(cas, c => (string?)c!["name"] == "issuing")!;
        using X509Certificate2 expected = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Node.IssuingCaPath));
        Assert.Equal(expected.SubjectName.Name, (string?)issuing["subjectDn"]);
        Assert.True(DateTimeOffset.Parse((string)issuing["notAfter"]!) > DateTimeOffset.UtcNow);
        Assert.Equal("/api/v1/cas/issuing/certificate.pem", (string?)issuing["links"]!["certificate"]);
    }

    [Fact]
    public async Task Pem_download_is_the_node_issuing_ca_file()
    {
        using HttpClient client = fixture.Client();
        using HttpResponseMessage response = await client.GetAsync("/api/v1/cas/issuing/certificate.pem");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-pem-file", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(Node.IssuingCaPath), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Der_download_parses_as_the_issuing_ca()
    {
        using HttpClient client = fixture.Client();
        using HttpResponseMessage response = await client.GetAsync("/api/v1/cas/issuing/certificate.der");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/pkix-cert", response.Content.Headers.ContentType?.MediaType);
        using X509Certificate2 downloaded = X509CertificateLoader.LoadCertificate(await response.Content.ReadAsByteArrayAsync());
        using X509Certificate2 expected = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Node.IssuingCaPath));
        Assert.Equal(expected.RawData, downloaded.RawData);
    }

    [Fact]
    public async Task Chain_download_holds_the_issuing_ca_then_the_root()
    {
        using HttpClient client = fixture.Client();
        string pem = await client.GetStringAsync("/api/v1/cas/issuing/chain.pem");
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(pem);
        using X509Certificate2 issuing = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Node.IssuingCaPath));
        using X509Certificate2 root = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(Node.RootCaPath));
        Assert.Equal(issuing.RawData, chain[0].RawData);
        Assert.Contains(chain, c => c.RawData.AsSpan().SequenceEqual(root.RawData));
    }

    [Theory]
    [InlineData("/api/v1/cas/nope/certificate.pem")]
    [InlineData("/api/v1/cas/nope/certificate.der")]
    [InlineData("/api/v1/cas/nope/chain.pem")]
    [InlineData("/api/v1/certificates/issuing/0123456789ABCDEF")]
    [InlineData("/api/v1/certificates/issuing/not-hex")]
    [InlineData("/api/v1/certificates/nope/01")]
    public async Task Unknown_ca_or_serial_is_404(string path)
    {
        using HttpClient client = fixture.Client();
        using HttpResponseMessage response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Certificate_enrolled_with_openssl_is_found_confirmed_by_any_spelling_of_its_serial()
    {
        using var dir = new TempDirectory("admin-lookup");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        OpenSslResult result = await new CmpEnrollment { Subject = "/CN=admin-lookup/O=Example" }.RunAsync(Node, dir.Path);
        E2e.Succeeded(result, Node);
        using X509Certificate2 issued = E2e.LoadCertificate(dir.File("cert.pem"));
        string serial = E2e.SerialHex(issued);

        using HttpClient client = fixture.Client();
        foreach (string spelling in new[] { serial, serial.ToLowerInvariant(), "000" + serial })
        {
            JsonNode view = await Admin.JsonAsync(client, HttpMethod.Get, $"/api/v1/certificates/issuing/{spelling}", null, 200);
            Assert.Equal(serial, (string?)view["serialHex"]);
            Assert.Equal("issuing", (string?)view["ca"]);
            Assert.Equal("Confirmed", (string?)view["status"]);
            Assert.Null(view["revocationReason"]);
            Assert.Equal(issued.SubjectName.Name, (string?)view["subjectDn"]);
            using X509Certificate2 returned = X509Certificate2.CreateFromPem((string)view["certificatePem"]!);
            Assert.Equal(issued.RawData, returned.RawData);
        }
    }
}
