using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Logging.Abstractions;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using Xunit;

namespace CmpCluster.Tests.Hsm;

/// <summary>
/// CA keys on a PKCS#11 token (SoftHSM2): loaded with every start-up check, signing on the token only, and the token's
/// faults: a token that goes away makes its keys unavailable (<see cref="KeyUnavailableException"/>), and they come back
/// with the token, without a new key ring.
/// </summary>
[Collection(SoftHsmCollection.Name)]
public sealed class TokenKeyTests
{
    private static string NewLabel(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    [SoftHsmFact]
    public void A_token_CA_signs_on_the_token_with_keys_that_cannot_leave_it()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("sign"));
        PkiKeyRing ring = PkiKeys.Load(ca.Options(), Path.GetTempPath(), NullLogger.Instance);
        CertificateAuthorityKeys authority = ring.FindAuthority("issuing")!;

        foreach (KeyHolder key in new[] { authority.Ca, authority.CmpSigner, authority.OcspSigner })
        {
            byte[] data = RandomNumberGenerator.GetBytes(200);
            byte[] signature = key.Sign(data, "test");
            using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(key.CertificateDer);
            Assert.True(certificate.GetECDsaPublicKey()!.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
            Assert.Null(key.Fault);
        }
        // The private keys on the token: sensitive, never extractable (PKCS#11 v2.40 §4.9 CKA_SENSITIVE, CKA_EXTRACTABLE).
        using Pkcs11Token token = OpenToken(ca.TokenLabel);
        foreach (string label in new[] { "issuing-ca", "cmp-signer", "ocsp-signer" })
        {
            List<IObjectAttribute> attributes = token.Use("test", s =>
                Pkcs11Token.Read(s, token.Find(s, CKO.CKO_PRIVATE_KEY, label), CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_NEVER_EXTRACTABLE));
            Assert.True(attributes[0].GetValueAsBool(), $"{label}: CKA_SENSITIVE");
            Assert.False(attributes[1].GetValueAsBool(), $"{label}: CKA_EXTRACTABLE");
            Assert.True(attributes[2].GetValueAsBool(), $"{label}: CKA_NEVER_EXTRACTABLE");
            // Reading the private value is refused by the token itself (C_GetAttributeValue: CKR_ATTRIBUTE_SENSITIVE).
            IObjectAttribute value = token.Use("test", s => s.GetAttributeValue(token.Find(s, CKO.CKO_PRIVATE_KEY, label), [CKA.CKA_VALUE])[0]);
            Assert.True(value.CannotBeRead, $"{label}: CKA_VALUE readable");
        }
    }

    [SoftHsmFact]
    public void An_RSA_key_on_the_token_signs_PKCS1_with_SHA256()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("rsa"), "rsa:2048");
        KeyHolder key = PkiKeys.Load(ca.Options(), Path.GetTempPath(), NullLogger.Instance).FindAuthority("issuing")!.Ca;
        byte[] data = RandomNumberGenerator.GetBytes(300);
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(key.CertificateDer);
        Assert.True(certificate.GetRSAPublicKey()!.VerifyData(data, key.Sign(data, "test"), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        Assert.Equal("1.2.840.113549.1.1.11", key.Signer.Algorithm.Algorithm.Id);
    }

    [SoftHsmFact]
    public void The_silo_secret_comes_from_the_token_HMAC_key_the_same_at_every_load_and_differs_between_tokens()
    {
        var first = new TokenCa(SoftHsm.Process, NewLabel("hmac1"));
        var second = new TokenCa(SoftHsm.Process, NewLabel("hmac2"));
        string a1 = new SiloCallToken(PkiKeys.Load(first.Options(), Path.GetTempPath(), NullLogger.Instance)).Value;
        string a2 = new SiloCallToken(PkiKeys.Load(first.Options(), Path.GetTempPath(), NullLogger.Instance)).Value;
        string b = new SiloCallToken(PkiKeys.Load(second.Options(), Path.GetTempPath(), NullLogger.Instance)).Value;
        Assert.Equal(a1, a2);
        Assert.NotEqual(a1, b);
        Assert.Equal(32, Convert.FromBase64String(a1).Length);
    }

    /// <summary>The settings of a node whose default CA keeps file keys and whose second CA, tls, is on the token.</summary>
    private static PkiOptions SecondCaOnToken(TokenCa ca, Action<Dictionary<string, string>>? change = null) => ca.Options("tls", s =>
    {
        s.Remove("Pki:CaName");
        s["Pki:Cas:tls:AllowedCertificateProfiles:0"] = "default";
        change?.Invoke(s);
    });

    [SoftHsmFact]
    public void A_second_CA_signs_on_the_token_next_to_the_file_CA()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("second"));
        string data = Path.Combine(Path.GetTempPath(), "cmp-hsm-second-" + Guid.NewGuid().ToString("N"));
        try
        {
            PkiKeyRing ring = PkiKeys.Load(SecondCaOnToken(ca), data, NullLogger.Instance);

            Assert.Equal(["issuing", "tls"], ring.Authorities.Select(a => a.Name));
            CertificateAuthorityKeys tls = ring.FindAuthority("tls")!;
            Assert.Equal(X509Certificate2.CreateFromPem(File.ReadAllText(ca.CaCertificate)).RawData, tls.Ca.CertificateDer);
            // Only the token holds the key of that certificate: a signature that verifies under it was made there.
            byte[] probe = RandomNumberGenerator.GetBytes(64);
            using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(tls.Ca.CertificateDer);
            Assert.True(certificate.GetECDsaPublicKey()!.VerifyData(probe, tls.Ca.Sign(probe, "test"), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
            Assert.True(File.Exists(Path.Combine(data, "pki", "issuing-ca.pem")), "the default CA keeps its development folder");
            Assert.False(Directory.Exists(Path.Combine(data, "pki-tls")), "a token CA gets no development folder");
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    [SoftHsmFact]
    public void A_key_the_token_does_not_have_for_a_second_CA_stops_the_start_naming_its_setting()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("second-nokey"));
        string data = Path.Combine(Path.GetTempPath(), "cmp-hsm-second-" + Guid.NewGuid().ToString("N"));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => PkiKeys.Load(
                SecondCaOnToken(ca, s => s["Pki:CaKeys:tls:Ca:KeyLabel"] = "no-such-key"), data, NullLogger.Instance));
            Assert.StartsWith("Pki:CaKeys:tls:Ca:KeyLabel:", e.Message);
            Assert.Contains("no private key labelled 'no-such-key'", e.Message);
        }
        finally
        {
            if (Directory.Exists(data))
            {
                Directory.Delete(data, recursive: true);
            }
        }
    }

    [SoftHsmFact]
    public void A_key_the_token_does_not_have_stops_the_start_naming_the_setting()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("nokey"));
        var e = Assert.Throws<InvalidOperationException>(() => PkiKeys.Load(
            ca.Options(change: s => s["Pki:CaKeys:issuing:CmpSigner:KeyLabel"] = "no-such-key"), Path.GetTempPath(), NullLogger.Instance));
        Assert.StartsWith("Pki:CaKeys:issuing:CmpSigner:KeyLabel:", e.Message);
        Assert.Contains("no private key labelled 'no-such-key'", e.Message);
    }

    [SoftHsmFact]
    public void A_certificate_that_is_not_the_key_s_stops_the_start_naming_the_setting()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("swap"));
        // The CMP signer's certificate for the CA key: a chain that does not match the key.
        var e = Assert.Throws<InvalidOperationException>(() => PkiKeys.Load(
            ca.Options(change: s => s["Pki:CaKeys:issuing:Ca:Certificate"] = ca.CmpSignerCertificate), Path.GetTempPath(), NullLogger.Instance));
        Assert.Equal("Pki:CaKeys:issuing:Ca:Certificate: the certificate's public key is not the key 'issuing-ca' on token '" + ca.TokenLabel + "'", e.Message);
    }

    [SoftHsmFact]
    public void A_CA_certificate_not_issued_by_the_root_stops_the_start_naming_the_setting()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("root"));
        var other = new TokenCa(SoftHsm.Process, NewLabel("root2"));
        var e = Assert.Throws<InvalidOperationException>(() => PkiKeys.Load(
            ca.Options(change: s => s["Pki:CaKeys:issuing:RootCertificate"] = other.RootCertificate), Path.GetTempPath(), NullLogger.Instance));
        Assert.StartsWith("Pki:CaKeys:issuing:Ca:Certificate: the certificate is not issued by the root certificate (Pki:CaKeys:issuing:RootCertificate)", e.Message);
    }

    [SoftHsmFact]
    public void A_wrong_PIN_stops_the_start_naming_the_setting_without_printing_it()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("pin"));
        const string wrong = "0000-wrong-pin";
        var e = Assert.Throws<InvalidOperationException>(() => PkiKeys.Load(
            ca.Options(change: s => s["Pki:Tokens:hsm:Pin"] = wrong), Path.GetTempPath(), NullLogger.Instance));
        Assert.Equal($"Pki:Tokens:hsm:Pin: token '{ca.TokenLabel}' refused the PIN (CKR_PIN_INCORRECT)", e.Message);
        Assert.DoesNotContain(wrong, e.ToString());
        Assert.DoesNotContain(SoftHsm.Pin, e.ToString());
    }

    [SoftHsmFact]
    public void An_unknown_token_label_stops_the_start_naming_the_setting()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("label"));
        var e = Assert.Throws<InvalidOperationException>(() => PkiKeys.Load(
            ca.Options(change: s => s["Pki:Tokens:hsm:TokenLabel"] = "absent-token"), Path.GetTempPath(), NullLogger.Instance));
        Assert.StartsWith("Pki:Tokens:hsm:TokenLabel: no token labelled 'absent-token'", e.Message);
    }

    [SoftHsmFact]
    public void A_token_that_goes_away_makes_its_keys_unavailable_until_it_is_back()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("away"));
        CertificateAuthorityKeys authority = PkiKeys.Load(ca.Options(), Path.GetTempPath(), NullLogger.Instance).FindAuthority("issuing")!;
        byte[] data = RandomNumberGenerator.GetBytes(64);
        authority.Ca.Sign(data, "test");

        string folder = SoftHsmFolders.Remove(ca);
        var e = Assert.Throws<KeyUnavailableException>(() => authority.Ca.Sign(data, "test"));
        Assert.Equal("issuing", e.Key);
        Assert.Contains($"token '{ca.TokenLabel}'", e.Message);
        Assert.NotNull(authority.Fault);
        Assert.False(authority.Ca.Probe());
        Assert.Throws<KeyUnavailableException>(() => authority.CmpSigner.Sign(data, "test"));

        SoftHsmFolders.Restore(ca, folder);
        // The module is initialized again at most every 5 s to find a token that came back.
        Assert.True(SpinWait.SpinUntil(() => authority.Ca.Probe(), TimeSpan.FromSeconds(15)));
        Assert.Null(authority.Fault);
        byte[] signature = authority.Ca.Sign(data, "test");
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(authority.Ca.CertificateDer);
        Assert.True(certificate.GetECDsaPublicKey()!.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
    }

    [SoftHsmFact]
    public void A_token_logged_out_under_the_CA_fails_once_then_logs_in_again()
    {
        var ca = new TokenCa(SoftHsm.Process, NewLabel("logout"));
        CertificateAuthorityKeys authority = PkiKeys.Load(ca.Options(), Path.GetTempPath(), NullLogger.Instance).FindAuthority("issuing")!;
        byte[] data = RandomNumberGenerator.GetBytes(64);
        authority.Ca.Sign(data, "test");
        // C_Logout logs the whole application out of the token (PKCS#11 v2.40 §5.6): the CA's sessions with it.
        using (Pkcs11Token other = OpenToken(ca.TokenLabel))
        {
            other.Use("test", s => { s.Logout(); return 0; });
            Assert.Throws<KeyUnavailableException>(() => authority.Ca.Sign(data, "test"));
            Assert.NotNull(authority.Ca.Fault);
        }
        authority.Ca.Sign(data, "test");
        Assert.Null(authority.Ca.Fault);
    }

    private static Pkcs11Token OpenToken(string label) => Pkcs11Token.Open("test-" + label,
        new Pkcs11TokenOptions { Library = SoftHsm.Library, TokenLabel = label, Pin = SoftHsm.Pin, Sessions = 1 }, NullLogger.Instance);
}

[CollectionDefinition(Name)]
public sealed class SoftHsmCollection
{
    public const string Name = "softhsm";
}

/// <summary>SoftHSM2 keeps each token in a folder of its own under the token folder: moving it away removes the token.</summary>
public static class SoftHsmFolders
{
    public static string Remove(TokenCa ca)
    {
        string folder = Directory.GetDirectories(ca.Hsm.TokenFolder).Single(d =>
            File.ReadAllText(Path.Combine(d, "token.object"), System.Text.Encoding.Latin1).Contains(ca.TokenLabel, StringComparison.Ordinal));
        string away = Path.Combine(ca.Hsm.Folder, "away-" + Path.GetFileName(folder));
        Directory.Move(folder, away);
        return folder;
    }

    public static void Restore(TokenCa ca, string folder) =>
        Directory.Move(Path.Combine(ca.Hsm.Folder, "away-" + Path.GetFileName(folder)), folder);
}
