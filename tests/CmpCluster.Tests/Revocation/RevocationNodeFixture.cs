using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Tests.Admin;
using CmpCluster.Tests.EndToEnd;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.X509;
using Xunit;

namespace CmpCluster.Tests.Revocation;

/// <summary>
/// One real node for the revocation end-to-end tests: an admin token, a public base URL the certificates must carry,
/// a short CRL debounce and check period, and the alias <see cref="ShortConfirmAlias"/> whose unconfirmed certificates
/// are revoked after two seconds.
/// </summary>
public sealed class RevocationNodeFixture : IAsyncLifetime
{
    public const string Token = "revocation-token";
    public const string PublicBaseUrl = "http://ca.example.test:8080";
    public const string ShortConfirmAlias = "ra-short";
    public const string ShortConfirmSecret = "shortsecret";

    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node fixture is not started");

    public async Task InitializeAsync() => _node = await NodeProcess.StartAsync(
    [
        $"--Admin:Tokens:0={Token}",
        $"--Pki:PublicBaseUrl={PublicBaseUrl}",
        "--Pki:Crl:Debounce=00:00:01",
        "--Pki:Crl:CheckPeriod=00:00:02",
        "--Cmp:ConfirmCheckPeriod=00:00:02",
        $"--Cmp:Aliases:{ShortConfirmAlias}:Secret={ShortConfirmSecret}",
        $"--Cmp:Aliases:{ShortConfirmAlias}:ResponseProtection=Pbe",
        $"--Cmp:Aliases:{ShortConfirmAlias}:ConfirmWaitTime=00:00:02",
    ]);

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }

    public HttpClient AdminClient() => Admin.Admin.Client(Node, Token);

    /// <summary>Enrolls with <c>openssl cmp</c> (ir, certConf) and returns the certificate's path.</summary>
    public async Task<string> EnrollAsync(string directory, string name, CmpEnrollment? enrollment = null)
    {
        string key = await OpenSsl.GenerateP256KeyAsync(directory, name + ".key.pem");
        OpenSslResult result = await ((enrollment ?? new CmpEnrollment()) with
        {
            Subject = $"/CN=revocation-{name}/O=Example",
            KeyFile = key,
            CertOut = name + ".pem",
        }).RunAsync(Node, directory);
        E2e.Succeeded(result, Node);
        return System.IO.Path.Combine(directory, name + ".pem");
    }

    public async Task RevokeAsync(string serialHex, string reason, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using HttpClient admin = AdminClient();
        using HttpResponseMessage response = await admin.PostAsJsonAsync($"api/v1/certificates/issuing/{serialHex}/revoke", new { reason });
        Assert.True(response.StatusCode == expected,
            $"revoke {serialHex} ({reason}): expected {(int)expected}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Downloads <c>/crl/issuing.crl</c> until it lists <paramref name="serialHex"/> (CRLs follow revocations after the debounce).</summary>
    public async Task<string> WaitForCrlListingAsync(string directory, string serialHex, TimeSpan timeout)
    {
        using HttpClient http = Node.CreateHttpClient();
        var stopwatch = Stopwatch.StartNew();
        while (true)
        {
            byte[] der = await http.GetByteArrayAsync("crl/issuing.crl");
            X509Crl crl = new X509CrlParser().ReadCrl(der);
            if (crl.GetRevokedCertificate(new BigInteger(serialHex, 16)) is not null)
            {
                string path = System.IO.Path.Combine(directory, serialHex + ".crl");
                await File.WriteAllBytesAsync(path, der);
                return path;
            }
            Assert.True(stopwatch.Elapsed < timeout, $"serial {serialHex} not on the CRL after {timeout.TotalSeconds:0} s\n{Node.Diagnostics()}");
            await Task.Delay(TimeSpan.FromMilliseconds(300));
        }
    }

    /// <summary><c>openssl ocsp</c> for one certificate (or a bare serial), verifying the response against the CA chain.</summary>
    public Task<OpenSslResult> OcspAsync(string directory, params string[] target) =>
        OpenSsl.RunAsync(directory, new[]
        {
            "ocsp", "-issuer", Node.IssuingCaPath, "-url", $"http://127.0.0.1:{Node.HttpPort}/ocsp", "-CAfile", Node.CaChainPath, "-resp_text",
        }.Concat(target));

    /// <summary>The serial as openssl prints it: the DER integer's bytes in upper-case hex.</summary>
    public static string OpenSslSerial(string certificatePath)
    {
        using X509Certificate2 certificate = E2e.LoadCertificate(certificatePath);
        return certificate.SerialNumber;
    }
}
