using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace CmpCluster.Tests.Configuration;

/// <summary>
/// Several CAs on one node (Pki:CaName plus Pki:Cas:{name}): each loads from its own development PKI folder under its own
/// root, and every mistake in their definitions stops the start with a message naming the setting.
/// </summary>
public sealed class MultipleCaConfigurationTests : IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "cmp-multica-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_data))
        {
            Directory.Delete(_data, recursive: true);
        }
    }

    private static PkiOptions TwoCas() => new()
    {
        Cas = { ["tls"] = new CaDefinitionOptions { IssuingSubject = "CN=TLS Issuing CA,O=Example", RootSubject = "CN=TLS Root CA,O=Example" } },
    };

    private PkiKeyRing Load(PkiOptions options) => PkiKeys.Load(options, _data, NullLogger.Instance);

    [Fact]
    public void Each_CA_loads_from_its_own_folder_under_its_own_root()
    {
        PkiKeyRing ring = Load(TwoCas());

        CertificateAuthorityKeys issuing = ring.FindAuthority("issuing")!;
        CertificateAuthorityKeys tls = ring.FindAuthority("tls")!;
        Assert.Same(issuing, ring.Default);
        using X509Certificate2 tlsCa = X509CertificateLoader.LoadCertificate(tls.Ca.CertificateDer);
        using X509Certificate2 tlsRoot = X509CertificateLoader.LoadCertificate(tls.Root.GetEncoded());
        Assert.Equal("CN=TLS Issuing CA, O=Example", tlsCa.Subject);
        Assert.Equal("CN=TLS Root CA, O=Example", tlsRoot.Subject);
        Assert.Equal(tlsRoot.SubjectName.RawData, tlsCa.IssuerName.RawData);
        Assert.False(issuing.Root.Equals(tls.Root));
        Assert.True(File.Exists(Path.Combine(_data, "pki", "issuing-ca.pem")));
        Assert.True(File.Exists(Path.Combine(_data, "pki-tls", "issuing-ca.pem")));
        Assert.Same(tls, ring.FindByIssuer(tls.Ca.Certificate.Subject));
        Assert.Equal("tls/cmp", tls.CmpSigner.Name);

        // A second start reads the same keys.
        PkiKeyRing again = Load(TwoCas());
        Assert.Equal(tls.Ca.CertificateDer, again.FindAuthority("tls")!.Ca.CertificateDer);
    }

    [Fact]
    public void A_CA_certificate_that_is_not_its_key_stops_the_start_naming_the_CA_and_file()
    {
        Load(TwoCas());
        // An operator copies another CA's certificate into the folder: it is not the key beside it.
        File.Copy(Path.Combine(_data, "pki", "issuing-ca.pem"), Path.Combine(_data, "pki-tls", "issuing-ca.pem"), overwrite: true);

        var e = Assert.Throws<InvalidOperationException>(() => Load(TwoCas()));

        Assert.Contains("Pki:Cas:tls", e.Message);
        Assert.Contains("issuing-ca.pem: the certificate's public key is not the key of issuing-ca.key.pem", e.Message);
    }

    [Fact]
    public void A_signer_from_another_CA_stops_the_start_naming_the_broken_link()
    {
        Load(TwoCas());
        // Certificate and key both from the other CA: they match each other, but not this CA's chain.
        foreach (string file in new[] { "cmp-signer.pem", "cmp-signer.key.pem" })
        {
            File.Copy(Path.Combine(_data, "pki", file), Path.Combine(_data, "pki-tls", file), overwrite: true);
        }

        var e = Assert.Throws<InvalidOperationException>(() => Load(TwoCas()));

        Assert.Contains("Pki:Cas:tls", e.Message);
        Assert.Contains("cmp-signer.pem: the certificate is not issued by issuing-ca.pem", e.Message);
    }

    [Fact]
    public void Two_CAs_with_one_subject_stop_the_start()
    {
        PkiOptions options = TwoCas();
        options.Cas["tls"].IssuingSubject = options.IssuingSubject;

        var e = Assert.Throws<InvalidOperationException>(() => Load(options));

        Assert.Contains("Pki:Cas:tls: CA 'tls' has the subject of CA 'issuing'", e.Message);
    }

    [Fact]
    public void Token_keys_for_a_CA_the_node_does_not_have_stop_the_start()
    {
        PkiOptions options = TwoCas();
        options.CaKeys["ipsec"] = new CaKeyOptions { Token = "hsm" };

        var e = Assert.Throws<InvalidOperationException>(() => Load(options));

        Assert.StartsWith("Pki:CaKeys:ipsec: no CA 'ipsec' on this node", e.Message);
        Assert.False(Directory.Exists(_data), "nothing is created before the definitions are checked");
    }

    [Theory]
    [InlineData("Issuing", "Pki:Cas:Issuing: two CAs named 'Issuing' (the other is Pki:CaName)")]
    [InlineData("issuing", "Pki:Cas:issuing: two CAs named 'issuing' (the other is Pki:CaName)")]
    [InlineData("no good", "Pki:Cas:no good: CA names are 1-64 letters, digits, '-' or '_'")]
    public void A_CA_name_used_twice_or_malformed_is_refused(string name, string expected)
    {
        PkiOptions options = TwoCas();
        options.Cas[name] = new CaDefinitionOptions();

        ValidateOptionsResult result = new PkiOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_root_rollover_file_of_a_CA_is_refused_naming_that_CA()
    {
        PkiOptions options = TwoCas();
        options.Cas["tls"].RootCaUpdate.NewWithNew = "/nonexistent/new-root.pem";

        ValidateOptionsResult result = new PkiOptionsValidator().Validate(null, options);

        Assert.Contains("Pki:Cas:tls:RootCaUpdate:NewWithNew: file '/nonexistent/new-root.pem' does not exist", result.Failures!);
    }

    /// <summary>A child CA defined before its parent: the parent's folder is made first all the same.</summary>
    private static PkiOptions ChildUnderTls() => new()
    {
        Cas =
        {
            ["child"] = new CaDefinitionOptions { IssuedBy = "tls", IssuingSubject = "CN=TLS Issuing CA 2,O=Example" },
            ["tls"] = new CaDefinitionOptions { IssuingSubject = "CN=TLS Issuing CA,O=Example", RootSubject = "CN=TLS Root CA,O=Example" },
        },
    };

    [Fact]
    public void An_issuing_CA_under_an_existing_root_shares_that_root_and_not_its_key()
    {
        PkiKeyRing ring = Load(ChildUnderTls());

        CertificateAuthorityKeys tls = ring.FindAuthority("tls")!;
        CertificateAuthorityKeys child = ring.FindAuthority("child")!;
        Assert.Equal(tls.Root.GetEncoded(), child.Root.GetEncoded());
        Assert.False(child.Ca.Certificate.Subject.Equivalent(tls.Ca.Certificate.Subject));
        var childCa = new Org.BouncyCastle.X509.X509Certificate(child.Ca.CertificateDer);
        childCa.Verify(new Org.BouncyCastle.X509.X509Certificate(tls.Root.GetEncoded()).GetPublicKey());
        Assert.True(childCa.IssuerDN.Equivalent(tls.Root.Subject));
        Assert.False(File.Exists(Path.Combine(_data, "pki-child", "root-ca.key.pem")), "the root key stays in its own CA's folder");
        Assert.Equal(File.ReadAllText(Path.Combine(_data, "pki-tls", "root-ca.pem")), File.ReadAllText(Path.Combine(_data, "pki-child", "root-ca.pem")));
        Assert.Same(ring.FindAuthority("issuing"), ring.Default);
    }

    [Fact]
    public void A_parent_root_key_moved_offline_stops_the_first_start_of_the_child_naming_IssuedBy()
    {
        PkiOptions parentOnly = ChildUnderTls();
        parentOnly.Cas.Remove("child");
        Load(parentOnly);
        File.Move(Path.Combine(_data, "pki-tls", "root-ca.key.pem"), Path.Combine(_data, "offline-root.key.pem"));

        var e = Assert.Throws<InvalidOperationException>(() => Load(ChildUnderTls()));

        Assert.StartsWith("Pki:Cas:child:IssuedBy: the root key of CA 'tls'", e.Message);
        Assert.False(Directory.Exists(Path.Combine(_data, "pki-child")));
    }

    [Theory]
    [InlineData("child", null)]
    [InlineData("nowhere", null)]
    [InlineData("tls", "tls")]
    [InlineData("tls", "child")]
    public void IssuedBy_must_name_another_CA_with_its_own_development_root(string parent, string? onToken)
    {
        PkiOptions options = ChildUnderTls();
        options.Cas["child"].IssuedBy = parent;
        if (onToken is not null)
        {
            options.CaKeys[onToken] = new CaKeyOptions { Token = "hsm" };
        }

        ValidateOptionsResult result = new PkiOptionsValidator().Validate(null, options);

        Assert.Contains(result.Failures!, f => f.StartsWith($"Pki:Cas:child:IssuedBy '{parent}' must name another CA", StringComparison.Ordinal));
        Assert.True(new PkiOptionsValidator().Validate(null, ChildUnderTls()).Succeeded);
    }

    private static CmpOptions Aliases(string ca, string profile = "default") => new()
    {
        Aliases = { ["tls"] = new CmpAliasOptions { Secret = "s3cret-for-tests", Ca = ca, CertificateProfile = profile } },
        Profiles = { ["default"] = new CertificateProfileOptions(), ["server"] = new CertificateProfileOptions() },
    };

    private static IEnumerable<string> Cmp(PkiOptions pki, CmpOptions cmp) =>
        new CmpOptionsValidator(Options.Create(pki)).Validate(null, cmp).Failures ?? [];

    [Fact]
    public void An_alias_names_any_CA_of_the_node_and_nothing_else()
    {
        Assert.Empty(Cmp(TwoCas(), Aliases("tls")));
        Assert.Empty(Cmp(TwoCas(), Aliases("issuing")));
        Assert.Empty(Cmp(TwoCas(), Aliases(CmpAliasOptions.KeyId)));
        Assert.Contains("Cmp:Aliases:tls:Ca 'ipsec' is not a CA of this node (Pki:CaName and Pki:Cas name them: issuing, tls)", Cmp(TwoCas(), Aliases("ipsec")));
    }

    [Fact]
    public void An_alias_profile_the_CA_does_not_allow_is_refused()
    {
        PkiOptions pki = TwoCas();
        pki.Cas["tls"].AllowedCertificateProfiles = ["server"];

        Assert.Empty(Cmp(pki, Aliases("tls", "server")));
        Assert.Contains("Cmp:Aliases:tls:CertificateProfile 'default' is not allowed by CA 'tls' (Pki:Cas:tls:AllowedCertificateProfiles)",
            Cmp(pki, Aliases("tls", "default")));
    }

    [Fact]
    public void A_KeyID_alias_without_a_secret_takes_a_CA_RA_secret()
    {
        CmpOptions cmp = Aliases(CmpAliasOptions.KeyId);
        cmp.Aliases["tls"].Secret = null;
        PkiOptions pki = TwoCas();

        Assert.Contains(Cmp(pki, cmp), m => m.StartsWith("Cmp:Aliases:tls:Secret is required", StringComparison.Ordinal));
        pki.Cas["tls"].CmpRaSecret = "tls-ca-secret";
        Assert.Empty(Cmp(pki, cmp));
        Assert.Equal("tls-ca-secret", pki.CmpRaSecretOf(CmpAliasOptions.KeyId, "tls"u8.ToArray()));
        Assert.Null(pki.CmpRaSecretOf("issuing", null));
    }
}
