using System.Net;
using CmpCluster.Tests.EndToEnd;
using Xunit;

namespace CmpCluster.Tests.Hsm;

/// <summary>
/// A node whose CA keys are on a SoftHSM2 token, driven by <c>openssl cmp</c>: it issues certificates that verify under
/// the root; while the token is away it answers issuance with systemUnavail and its CA health is degraded; when the token
/// is back it issues again, without a restart. A wrong PIN stops the node at start without printing the PIN.
/// </summary>
[Collection(SoftHsmCollection.Name)]
public sealed class HsmNodeTests
{
    private static string NewLabel(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    [SoftHsmFact]
    public async Task A_SoftHSM_CA_issues_to_openssl_cmp_answers_systemUnavail_while_its_token_is_away_and_recovers()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("node"));
        // "sig": an alias whose responses the CMP signer signs, which is on the token too.
        await using NodeProcess node = await NodeProcess.StartAsync(ca.Settings().Select(s => $"--{s.Key}={s.Value}")
            .Concat(["--Cmp:Aliases:sig:Secret=changeit", "--Cmp:Aliases:sig:ResponseProtection=Signature"]));
        using HttpClient http = node.CreateHttpClient();
        using var dir = new TempDirectory("hsm-ir");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult issued = await new CmpEnrollment { Trusted = ca.RootCertificate }.RunAsync(node, dir.Path);
        E2e.Succeeded(issued, node);
        await AssertVerifiesAsync(ca, dir, "cert.pem", node);
        Assert.Equal("ok", await http.GetStringAsync("/health/ca/issuing"));

        string folder = SoftHsmFolders.Remove(ca);
        OpenSslResult refused = await new CmpEnrollment { Trusted = ca.RootCertificate, CertOut = "cert2.pem" }.RunAsync(node, dir.Path);
        E2e.Failed(refused, node);
        E2e.OutputContains(refused, "systemUnavail", node);
        E2e.OutputContains(refused, "the CA cannot sign now: its key is unavailable", node);
        Assert.False(File.Exists(dir.File("cert2.pem")));
        // Signed responses cannot be signed either: the error comes unprotected (RFC 9483 §3.6.4), and says why.
        OpenSslResult unprotected = await new CmpEnrollment
        {
            Trusted = ca.RootCertificate, CertOut = "cert-sig.pem", Path = ".well-known/cmp/p/sig", Extra = ["-unprotected_errors"],
        }.RunAsync(node, dir.Path);
        E2e.Failed(unprotected, node);
        E2e.OutputContains(unprotected, "systemUnavail", node);
        E2e.OutputContains(unprotected, "its CMP signer key is unavailable", node);
        Assert.False(File.Exists(dir.File("cert-sig.pem")));
        // OCSP: the responder cannot sign, so it says tryLater (RFC 6960 §2.3).
        OpenSslResult ocsp = await OpenSsl.RunAsync(dir.Path, "ocsp", "-issuer", ca.CaCertificate, "-cert", dir.File("cert.pem"),
            "-url", $"http://{node.Server}/ocsp", "-CAfile", ca.RootCertificate);
        Assert.Contains("trylater", ocsp.Output, StringComparison.OrdinalIgnoreCase);
        using (HttpResponseMessage degraded = await http.GetAsync("/health/ca/issuing"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, degraded.StatusCode);
            Assert.StartsWith("degraded", await degraded.Content.ReadAsStringAsync());
        }
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/health/ca/other")).StatusCode);
        Assert.DoesNotContain(SoftHsm.Pin, NodeLines(node.Output));

        SoftHsmFolders.Restore(ca, folder);
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        while ((status = (await http.GetAsync("/health/ca/issuing")).StatusCode) != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }
        Assert.True(status == HttpStatusCode.OK, $"CA health stayed {status} after the token came back\n{node.Diagnostics()}");
        OpenSslResult again = await new CmpEnrollment { Trusted = ca.RootCertificate, CertOut = "cert3.pem" }.RunAsync(node, dir.Path);
        E2e.Succeeded(again, node);
        await AssertVerifiesAsync(ca, dir, "cert3.pem", node);
    }

    [SoftHsmFact]
    public async Task A_wrong_PIN_stops_the_node_naming_the_setting_without_printing_the_PIN()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("nodepin"));
        const string wrong = "9999-not-the-pin";
        Dictionary<string, string> settings = ca.Settings();
        settings["Pki:Tokens:hsm:Pin"] = wrong;
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            NodeProcess.StartAsync(settings.Select(s => $"--{s.Key}={s.Value}"), timeout: TimeSpan.FromSeconds(60)));
        string output = NodeLines(failure.Message.Split("--- node output ---")[1]);
        Assert.Contains("Pki:Tokens:hsm:Pin: token", output);
        Assert.Contains("refused the PIN (CKR_PIN_INCORRECT)", output);
        Assert.DoesNotContain(wrong, output);
    }

    /// <summary>What the node wrote, without the harness's own "=== start" lines (which show the command line the test chose).</summary>
    private static string NodeLines(string output) =>
        string.Join('\n', output.Split('\n').Where(l => !l.StartsWith("=== ", StringComparison.Ordinal)));

    private static async Task AssertVerifiesAsync(TokenCa ca, TempDirectory dir, string certificate, NodeProcess node)
    {
        OpenSslResult verify = await OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", ca.RootCertificate, "-untrusted", ca.CaCertificate, dir.File(certificate));
        Assert.True(verify.ExitCode == 0 && verify.Stdout.Contains(": OK", StringComparison.Ordinal), $"{verify}\n{node.Diagnostics()}");
    }
}
