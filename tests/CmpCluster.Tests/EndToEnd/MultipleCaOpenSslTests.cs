using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.X509;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// The 3GPP example of EJBCA's CMP documentation ("3GPP/4G/LTE configuration guide": aliasIPSEC and aliasTLS issue from
/// two CA hierarchies) on one node: CAs <c>ipsec</c> and <c>tls</c> defined under <c>Pki:Cas</c>, each under its own root,
/// next to the default <c>issuing</c> CA; aliases <c>ipsec</c> and <c>tls</c> name them, and alias <c>bykeyid</c> lets the
/// senderKID choose (KeyID) with the CA's own RA secret. Only tls has a root rollover configured.
/// </summary>
public sealed class MultipleCaNodeFixture : IAsyncLifetime
{
    public const string IpsecSecret = "ipsec-secret-1";
    public const string TlsSecret = "tls-secret-2";
    public const string TlsCaSecret = "tls-ca-secret-3";
    public const string AdminToken = "multica-admin-token";

    private readonly TempDirectory _files = new("multica-files");
    private NodeProcess? _node;

    public NodeProcess Node => _node ?? throw new InvalidOperationException("the node is not started");

    /// <summary>The new root announced for the tls CA's rollover (newWithNew).</summary>
    public byte[] TlsNewRoot { get; private set; } = [];

    public string Folder(string ca) => Path.Combine(Node.DataDirectory, "pki-" + ca);
    public string Root(string ca) => Path.Combine(Folder(ca), "root-ca.pem");
    public string Issuing(string ca) => Path.Combine(Folder(ca), "issuing-ca.pem");
    public string Chain(string ca) => Path.Combine(Folder(ca), "ca-chain.pem");

    public async Task InitializeAsync()
    {
        using (ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            var request = new CertificateRequest("CN=TLS Root CA 2,O=Example Operator", key, HashAlgorithmName.SHA256);
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
            using X509Certificate2 root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(5));
            TlsNewRoot = root.RawData;
            await File.WriteAllTextAsync(_files.File("tls-new-root.pem"), root.ExportCertificatePem());
        }
        _node = await NodeProcess.StartAsync(
        [
            "--Pki:Cas:ipsec:RootSubject=CN=IPSEC Root CA,O=Example Operator",
            "--Pki:Cas:ipsec:IssuingSubject=CN=IPSEC Issuing CA,O=Example Operator",
            "--Pki:Cas:tls:RootSubject=CN=TLS Root CA,O=Example Operator",
            "--Pki:Cas:tls:IssuingSubject=CN=TLS Issuing CA,O=Example Operator",
            $"--Pki:Cas:tls:CmpRaSecret={TlsCaSecret}",
            $"--Pki:Cas:tls:RootCaUpdate:NewWithNew={_files.File("tls-new-root.pem")}",
            "--Pki:Crl:Debounce=00:00:00",
            // The tls CA's own CRL schedule and OCSP validity (Pki:Cas:{name}:Crl / :Ocsp); ipsec keeps the node's.
            "--Pki:Cas:tls:Crl:Validity=2.00:00:00", "--Pki:Cas:tls:Crl:Debounce=00:00:00", "--Pki:Cas:tls:Ocsp:ResponseValidity=01:00:00",
            "--Cmp:Aliases:ipsec:Ca=ipsec",
            $"--Cmp:Aliases:ipsec:Secret={IpsecSecret}",
            "--Cmp:Aliases:tls:Ca=tls",
            $"--Cmp:Aliases:tls:Secret={TlsSecret}",
            "--Cmp:Aliases:bykeyid:Ca=KeyID",
            $"--Admin:Tokens:0={AdminToken}",
        ]);
    }

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
        _files.Dispose();
    }
}

public sealed class MultipleCaOpenSslTests(MultipleCaNodeFixture fixture) : IClassFixture<MultipleCaNodeFixture>
{
    private NodeProcess Node => fixture.Node;

    private Task<OpenSslResult> EnrollAsync(TempDirectory dir, string alias, string secret, string certOut, string? reference = null) =>
        new CmpEnrollment
        {
            Path = "cmp/" + alias,
            Reference = reference ?? alias,
            Secret = secret,
            Subject = $"/CN={certOut}/O=Example Operator",
            Trusted = fixture.Root(alias == "bykeyid" ? (reference == "ipsec" ? "ipsec" : "tls") : alias),
            CertOut = certOut,
            ResponsesOut = certOut + ".rsp.der",
        }.RunAsync(Node, dir.Path);

    /// <summary><c>openssl verify</c> of <paramref name="certificate"/> with only <paramref name="ca"/>'s root trusted.</summary>
    private Task<OpenSslResult> VerifyUnderAsync(TempDirectory dir, string ca, string certificate) =>
        OpenSsl.RunAsync(dir.Path, "verify", "-CAfile", fixture.Root(ca), "-untrusted", fixture.Issuing(ca), certificate);

    private void AssertVerifiesOnlyUnder(TempDirectory dir, string ca, string other, string certificate, OpenSslResult own, OpenSslResult foreign)
    {
        E2e.Succeeded(own, Node);
        E2e.OutputContains(own, $"{certificate}: OK", Node);
        E2e.Failed(foreign, Node);
        E2e.OutputContains(foreign, "unable to get local issuer certificate", Node);
        using X509Certificate2 issued = E2e.LoadCertificate(dir.File(certificate));
        using X509Certificate2 issuer = E2e.LoadCertificate(fixture.Issuing(ca));
        Assert.Equal(issuer.SubjectName.RawData, issued.IssuerName.RawData);
        Assert.Contains(ca.ToUpperInvariant() + " Issuing CA", issued.Issuer);
        Assert.DoesNotContain(other.ToUpperInvariant(), issued.Issuer);
    }

    [Fact]
    public async Task Aliases_ipsec_and_tls_issue_from_their_own_CA_and_each_certificate_verifies_only_under_its_own_root()
    {
        using var dir = new TempDirectory("multica-3gpp");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult ipsec = await EnrollAsync(dir, "ipsec", MultipleCaNodeFixture.IpsecSecret, "ipsec.pem");
        OpenSslResult tls = await EnrollAsync(dir, "tls", MultipleCaNodeFixture.TlsSecret, "tls.pem");

        E2e.Succeeded(ipsec, Node);
        E2e.Succeeded(tls, Node);
        AssertVerifiesOnlyUnder(dir, "ipsec", "tls", "ipsec.pem",
            await VerifyUnderAsync(dir, "ipsec", "ipsec.pem"), await VerifyUnderAsync(dir, "tls", "ipsec.pem"));
        AssertVerifiesOnlyUnder(dir, "tls", "ipsec", "tls.pem",
            await VerifyUnderAsync(dir, "tls", "tls.pem"), await VerifyUnderAsync(dir, "ipsec", "tls.pem"));
        // caPubs of each ip carry its own root (IncludeRootInCaPubs), not the other's.
        Assert.Equal(E2e.DerOfPem(fixture.Root("tls")), Assert.Single(E2e.ReadSaved(dir.File("tls.pem.rsp.der"), Node).CaPubs));
        // The CRL distribution point of each names its own CA's CRL.
        using X509Certificate2 tlsCertificate = E2e.LoadCertificate(dir.File("tls.pem"));
        Assert.Contains("/crl/tls.crl", tlsCertificate.Extensions["2.5.29.31"]!.Format(false));
    }

    [Fact]
    public async Task A_secret_of_one_alias_is_refused_at_the_other()
    {
        using var dir = new TempDirectory("multica-cross");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult refused = await new CmpEnrollment
        {
            Path = "cmp/tls", Reference = "tls", Secret = MultipleCaNodeFixture.IpsecSecret, Trusted = fixture.Root("tls"), CertOut = "x.pem",
        }.RunAsync(Node, dir.Path);

        E2e.Failed(refused, Node);
        E2e.OutputContains(refused, "badMessageCheck", Node);
        Assert.False(File.Exists(dir.File("x.pem")));
    }

    [Fact]
    public async Task KeyID_picks_the_CA_from_the_senderKID_with_that_CA_s_RA_secret()
    {
        using var dir = new TempDirectory("multica-keyid");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);

        OpenSslResult tls = await EnrollAsync(dir, "bykeyid", MultipleCaNodeFixture.TlsCaSecret, "keyid-tls.pem", reference: "tls");
        // ipsec has no RA secret of its own (nor Pki:CmpRaSecret): tls's secret is no good for it.
        OpenSslResult ipsec = await EnrollAsync(dir, "bykeyid", MultipleCaNodeFixture.TlsCaSecret, "keyid-ipsec.pem", reference: "ipsec");
        // A CA the node does not have cannot sign the error: the default CA's CMP signer does.
        OpenSslResult unknown = await new CmpEnrollment
        {
            Path = "cmp/bykeyid", Reference = "nowhere", Secret = MultipleCaNodeFixture.TlsCaSecret, Trusted = Node.RootCaPath, CertOut = "keyid-none.pem",
        }.RunAsync(Node, dir.Path);

        E2e.Succeeded(tls, Node);
        AssertVerifiesOnlyUnder(dir, "tls", "ipsec", "keyid-tls.pem",
            await VerifyUnderAsync(dir, "tls", "keyid-tls.pem"), await VerifyUnderAsync(dir, "ipsec", "keyid-tls.pem"));
        E2e.Failed(ipsec, Node);
        E2e.OutputContains(ipsec, "badMessageCheck", Node);
        E2e.Failed(unknown, Node);
        E2e.OutputContains(unknown, "wrongAuthority", Node);
    }

    [Fact]
    public async Task Each_CA_publishes_its_own_CRL_and_answers_OCSP_for_its_own_certificates()
    {
        using var dir = new TempDirectory("multica-revocation");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        E2e.Succeeded(await EnrollAsync(dir, "ipsec", MultipleCaNodeFixture.IpsecSecret, "live.pem"), Node);
        E2e.Succeeded(await EnrollAsync(dir, "tls", MultipleCaNodeFixture.TlsSecret, "revoked.pem"), Node);
        E2e.Succeeded(await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "rr", "-server", Node.Server, "-path", "cmp/tls", "-ref", "tls",
            "-secret", "pass:" + MultipleCaNodeFixture.TlsSecret, "-oldcert", "revoked.pem", "-revreason", "1", "-trusted", fixture.Root("tls")), Node);
        using X509Certificate2 revoked = E2e.LoadCertificate(dir.File("revoked.pem"));

        using HttpClient http = Node.CreateHttpClient();
        X509Crl tlsCrl = await CrlListingAsync(http, "tls", revoked.SerialNumber);
        X509Crl ipsecCrl = new X509CrlParser().ReadCrl(await http.GetByteArrayAsync("crl/ipsec.crl"));
        Assert.True(tlsCrl.IssuerDN.Equivalent(Subject(fixture.Issuing("tls"))));
        Assert.True(ipsecCrl.IssuerDN.Equivalent(Subject(fixture.Issuing("ipsec"))));
        Assert.Null(ipsecCrl.GetRevokedCertificate(new Org.BouncyCastle.Math.BigInteger(revoked.SerialNumber, 16)));
        Assert.Equal(TimeSpan.FromDays(2), tlsCrl.NextUpdate!.Value - tlsCrl.ThisUpdate);
        Assert.Equal(TimeSpan.FromDays(1), ipsecCrl.NextUpdate!.Value - ipsecCrl.ThisUpdate);
        await File.WriteAllBytesAsync(dir.File("tls.crl"), tlsCrl.GetEncoded());
        OpenSslResult underOwn = await OpenSsl.RunAsync(dir.Path, "crl", "-in", "tls.crl", "-inform", "DER", "-CAfile", fixture.Chain("tls"), "-noout", "-verify");
        OpenSslResult underOther = await OpenSsl.RunAsync(dir.Path, "crl", "-in", "tls.crl", "-inform", "DER", "-CAfile", fixture.Chain("ipsec"), "-noout", "-verify");
        E2e.OutputContains(underOwn, "verify OK", Node);
        E2e.OutputLacks(underOther, "verify OK", Node);

        // OCSP: each CA's answer is signed by its own OCSP signer and verifies under its own chain only.
        OpenSslResult tlsOcsp = await OcspAsync(dir, "tls", "revoked.pem", fixture.Chain("tls"));
        OpenSslResult ipsecOcsp = await OcspAsync(dir, "ipsec", "live.pem", fixture.Chain("ipsec"));
        OpenSslResult tlsUnderIpsec = await OcspAsync(dir, "tls", "revoked.pem", fixture.Chain("ipsec"));
        E2e.OutputContains(tlsOcsp, "Response verify OK", Node);
        E2e.OutputContains(tlsOcsp, "revoked.pem: revoked", Node);
        E2e.OutputContains(tlsOcsp, "Subject: O=CmpCluster, CN=CmpCluster tls OCSP Signer", Node);
        E2e.OutputContains(ipsecOcsp, "Response verify OK", Node);
        E2e.OutputContains(ipsecOcsp, "live.pem: good", Node);
        E2e.OutputContains(ipsecOcsp, "Subject: O=CmpCluster, CN=CmpCluster ipsec OCSP Signer", Node);
        E2e.OutputContains(tlsUnderIpsec, "Response Verify Failure", Node);
        // Only the tls CA gives its answers a nextUpdate (its Pki:Cas:tls:Ocsp:ResponseValidity).
        E2e.OutputContains(tlsOcsp, "Next Update", Node);
        E2e.OutputLacks(ipsecOcsp, "Next Update", Node);
    }

    [Fact]
    public async Task Genm_caCerts_names_each_alias_s_own_CA_chain()
    {
        using var dir = new TempDirectory("multica-cacerts");
        foreach ((string alias, string secret) in new[] { ("ipsec", MultipleCaNodeFixture.IpsecSecret), ("tls", MultipleCaNodeFixture.TlsSecret) })
        {
            OpenSslResult genm = await OpenSsl.RunAsync(dir.Path, "cmp", "-cmd", "genm", "-server", Node.Server, "-path", "cmp/" + alias,
                "-ref", alias, "-secret", "pass:" + secret, "-infotype", "caCerts", "-trusted", fixture.Root(alias), "-rspout", alias + ".der");

            E2e.Succeeded(genm, Node);
            InfoTypeAndValue answer = Assert.Single(E2e.ReadSaved(dir.File(alias + ".der"), Node).GeneralInfo);
            byte[][] certificates = Asn1Sequence.GetInstance(answer.InfoValue).Cast<Asn1Encodable>()
                .Select(c => CmpCertificate.GetInstance(c).X509v3PKCert.GetEncoded(Asn1Encodable.Der)).ToArray();
            Assert.Equal([E2e.DerOfPem(fixture.Issuing(alias)), E2e.DerOfPem(fixture.Root(alias))], certificates);
        }
    }

    [Fact]
    public async Task Genm_crlStatusList_answers_with_the_CRL_of_the_alias_s_CA_only()
    {
        X509Name tls = Subject(fixture.Issuing("tls"));
        X509Name ipsec = Subject(fixture.Issuing("ipsec"));

        CmpResponseView own = await GenmAsync("tls", MultipleCaNodeFixture.TlsSecret, CrlStatusList(tls));
        CmpResponseView foreign = await GenmAsync("tls", MultipleCaNodeFixture.TlsSecret, CrlStatusList(ipsec));
        CmpResponseView atIpsec = await GenmAsync("ipsec", MultipleCaNodeFixture.IpsecSecret, CrlStatusList(ipsec));

        var crl = CertificateList.GetInstance(Assert.Single(Asn1Sequence.GetInstance(Crls(own)).ToArray()));
        Assert.True(crl.Issuer.Equivalent(tls));
        new X509Crl(crl).Verify(new Org.BouncyCastle.X509.X509Certificate(E2e.DerOfPem(fixture.Issuing("tls"))).GetPublicKey());
        Assert.Null(Crls(foreign)); // the tls alias does not hand out the ipsec CA's CRL
        var ipsecCrl = CertificateList.GetInstance(Assert.Single(Asn1Sequence.GetInstance(Crls(atIpsec)).ToArray()));
        Assert.True(ipsecCrl.Issuer.Equivalent(ipsec));
    }

    [Fact]
    public async Task Genm_rootCaKeyUpdate_announces_the_rollover_of_the_alias_s_CA_only()
    {
        var tlsRoot = new CmpCertificate(X509CertificateStructure.GetInstance(E2e.DerOfPem(fixture.Root("tls"))));
        var ipsecRoot = new CmpCertificate(X509CertificateStructure.GetInstance(E2e.DerOfPem(fixture.Root("ipsec"))));

        CmpResponseView tls = await GenmAsync("tls", MultipleCaNodeFixture.TlsSecret, new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaCert, tlsRoot));
        CmpResponseView ipsec = await GenmAsync("ipsec", MultipleCaNodeFixture.IpsecSecret, new InfoTypeAndValue(CmpObjectIdentifiers.id_it_rootCaCert, ipsecRoot));

        InfoTypeAndValue update = Assert.Single(tls.GeneralInfo);
        Assert.Equal(CmpObjectIdentifiers.id_it_rootCaKeyUpdate, update.InfoType);
        Assert.Equal(fixture.TlsNewRoot, RootCaKeyUpdateContent.GetInstance(update.InfoValue).NewWithNew.GetEncoded(Asn1Encodable.Der));
        InfoTypeAndValue none = Assert.Single(ipsec.GeneralInfo);
        Assert.Equal(CmpObjectIdentifiers.id_it_rootCaKeyUpdate, none.InfoType);
        Assert.Null(none.InfoValue);
    }

    [Fact]
    public async Task The_admin_API_lists_every_CA_with_its_own_chain()
    {
        using HttpClient admin = Admin.Admin.Client(Node, MultipleCaNodeFixture.AdminToken);

        string list = await admin.GetStringAsync("api/v1/cas");
        string tlsChain = await admin.GetStringAsync("api/v1/cas/tls/chain.pem");

        foreach (string name in new[] { "\"issuing\"", "\"ipsec\"", "\"tls\"" })
        {
            Assert.Contains(name, list);
        }
        Assert.Contains("CN=TLS Issuing CA", list);
        using X509Certificate2 first = X509Certificate2.CreateFromPem(tlsChain);
        Assert.Equal(E2e.DerOfPem(fixture.Issuing("tls")), first.RawData);
    }

    [Fact]
    public async Task A_disabled_CA_issues_nothing_new_while_the_other_does_and_its_CRL_stays_published()
    {
        using var dir = new TempDirectory("multica-disable");
        await OpenSsl.GenerateP256KeyAsync(dir.Path);
        using HttpClient admin = Admin.Admin.Client(Node, MultipleCaNodeFixture.AdminToken);
        try
        {
            JsonNode disabled = await Admin.Admin.JsonAsync(admin, HttpMethod.Post, "/api/v1/cas/tls/disable", null, 200);
            Assert.False((bool)disabled["enabled"]!);
            JsonArray list = (await Admin.Admin.JsonAsync(admin, HttpMethod.Get, "/api/v1/cas", null, 200)).AsArray();
            Assert.False((bool)list.Single(c => (string?)c!["name"] == "tls")!["enabled"]!);
            Assert.True((bool)list.Single(c => (string?)c!["name"] == "ipsec")!["enabled"]!);

            OpenSslResult tls = await EnrollAsync(dir, "tls", MultipleCaNodeFixture.TlsSecret, "while-disabled.pem");
            OpenSslResult ipsec = await EnrollAsync(dir, "ipsec", MultipleCaNodeFixture.IpsecSecret, "ipsec-meanwhile.pem");

            E2e.Failed(tls, Node);
            E2e.OutputContains(tls, "notAuthorized", Node);
            Assert.False(File.Exists(dir.File("while-disabled.pem")));
            E2e.Succeeded(ipsec, Node);
            using HttpClient http = Node.CreateHttpClient();
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("crl/tls.crl")).StatusCode);
        }
        finally
        {
            JsonNode enabled = await Admin.Admin.JsonAsync(admin, HttpMethod.Post, "/api/v1/cas/tls/enable", null, 200);
            Assert.True((bool)enabled["enabled"]!);
        }
        E2e.Succeeded(await EnrollAsync(dir, "tls", MultipleCaNodeFixture.TlsSecret, "enabled-again.pem"), Node);
        await Admin.Admin.JsonAsync(admin, HttpMethod.Post, "/api/v1/cas/nowhere/disable", null, 404);
    }

    private static X509Name Subject(string pemPath)
    {
        using X509Certificate2 certificate = E2e.LoadCertificate(pemPath);
        return X509Name.GetInstance(Asn1Object.FromByteArray(certificate.SubjectName.RawData));
    }

    private static InfoTypeAndValue CrlStatusList(X509Name issuer) => new(CmpObjectIdentifiers.id_it_crlStatusList,
        new DerSequence(new CrlStatus(new CrlSource(null, new GeneralNames(new GeneralName(issuer))), null)));

    private static Asn1Encodable? Crls(CmpResponseView view)
    {
        InfoTypeAndValue answer = Assert.Single(view.GeneralInfo);
        Assert.Equal(CmpObjectIdentifiers.id_it_crls, answer.InfoType);
        return answer.InfoValue;
    }

    /// <summary>A MAC-protected genm (RFC 9483 §4.3) that OpenSSL 3.0 cannot name, posted to the alias over HTTP.</summary>
    private async Task<CmpResponseView> GenmAsync(string alias, string secret, InfoTypeAndValue request)
    {
        var session = new CmpClientSession(secret, alias);
        using HttpClient http = Node.CreateHttpClient();
        using var content = new ByteArrayContent(session.BuildGeneralMessage(request));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/pkixcmp");
        using HttpResponseMessage response = await http.PostAsync("cmp/" + alias, content);
        response.EnsureSuccessStatusCode();
        byte[] der = await response.Content.ReadAsByteArrayAsync();
        CmpResponseView view = CmpResponseView.Parse(der);
        Assert.True(view.BodyType == Contracts.PkiBodyType.Genp, $"{view.BodyType}: {string.Join(",", view.FailInfo)} {view.Status?.StatusString}");
        // Responses are signed by the CMP signer of the alias's CA (ResponseProtection Signature), not another CA's.
        Assert.True(view.VerifySignature(E2e.DerOfPem(Path.Combine(fixture.Folder(alias), "cmp-signer.pem"))), $"the genp at {alias} is not signed by that CA's CMP signer");
        string other = alias == "tls" ? "ipsec" : "tls";
        Assert.False(view.VerifySignature(E2e.DerOfPem(Path.Combine(fixture.Folder(other), "cmp-signer.pem"))));
        return view;
    }

    private async Task<X509Crl> CrlListingAsync(HttpClient http, string ca, string serialHex)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            X509Crl crl = new X509CrlParser().ReadCrl(await http.GetByteArrayAsync($"crl/{ca}.crl"));
            if (crl.GetRevokedCertificate(new Org.BouncyCastle.Math.BigInteger(serialHex, 16)) is not null)
            {
                return crl;
            }
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"serial {serialHex} not on the {ca} CRL\n{Node.Diagnostics()}");
            await Task.Delay(300);
        }
    }

    private Task<OpenSslResult> OcspAsync(TempDirectory dir, string ca, string certificate, string trusted) =>
        OpenSsl.RunAsync(dir.Path, "ocsp", "-issuer", fixture.Issuing(ca), "-cert", certificate,
            "-url", $"http://127.0.0.1:{Node.HttpPort}/ocsp", "-CAfile", trusted, "-resp_text");
}
