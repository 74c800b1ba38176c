using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Net.Pkcs11Interop.Common;
using Net.Pkcs11Interop.HighLevelAPI;
using BcCertificate = Org.BouncyCastle.X509.X509Certificate;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// The CA keys of the silo: a CA named in <c>Pki:CaKeys</c> signs on its PKCS#11 token, any other keeps its keys in the
/// development PKI folder (<see cref="DevelopmentPki"/>). Every check of a token CA runs here, before the silo starts, and
/// each failure names the setting to fix (never the PIN): the token, each key (present, not extractable, the
/// certificate's key), the chain (CA under the root, CMP and OCSP signers under the CA) and the silo secret key.
/// </summary>
public static partial class PkiKeys
{
    public static PkiKeyRing Load(PkiOptions options, string dataDirectory, ILogger logger)
    {
        CaDefinition[] definitions = options.Definitions().ToArray();
        foreach (string name in options.CaKeys.Keys.Where(n => !definitions.Any(d => d.Name == n)))
        {
            throw new InvalidOperationException($"{PkiOptions.Section}:CaKeys:{name}: no CA '{name}' on this node ({PkiOptions.Section}:CaName or {PkiOptions.Section}:Cas:{{name}})");
        }
        var tokens = new Dictionary<string, Pkcs11Token>(StringComparer.Ordinal);
        string? passphrase = null;
        var authorities = new List<CertificateAuthorityKeys>();
        // A CA issued under another CA's root (IssuedBy) is made after that CA's folder exists.
        foreach (CaDefinition definition in definitions.Where(d => d.IssuedBy is null).Concat(definitions.Where(d => d.IssuedBy is not null)))
        {
            CertificateAuthorityKeys authority = options.CaKeys.TryGetValue(definition.Name, out CaKeyOptions? keys)
                ? LoadTokenAuthority(options, definition.Name, keys, tokens, logger)
                : DevelopmentPki.LoadOrCreate(options, definition, dataDirectory, passphrase ??= DevelopmentPki.Passphrase(options, logger), logger);
            // Certificates, CRLs and OCSP CertIDs name their CA by its subject (RFC 5280 §4.1.2.4, RFC 6960 §4.1.1): two CAs
            // with one subject could not be told apart.
            if (authorities.FirstOrDefault(a => a.Ca.Certificate.Subject.Equivalent(authority.Ca.Certificate.Subject)) is { } twin)
            {
                throw new InvalidOperationException($"{definition.Setting}: CA '{definition.Name}' has the subject of CA '{twin.Name}' "
                    + $"({authority.Ca.Certificate.Subject}); every CA of a node needs its own subject DN");
            }
            authorities.Add(authority);
        }
        return WithRecorded(authorities, options, dataDirectory, logger, tokens);
    }

    /// <summary>The ring of <paramref name="configured"/>, joined by the CAs made through the admin API that the data directory holds.</summary>
    /// <param name="tokens">The tokens the configured CAs opened: a recorded CA on the same token shares its sessions.</param>
    internal static PkiKeyRing WithRecorded(IEnumerable<CertificateAuthorityKeys> configured, PkiOptions options, string dataDirectory, ILogger logger,
        Dictionary<string, Pkcs11Token>? tokens = null)
    {
        string passphrase = string.IsNullOrEmpty(options.Passphrase) ? PkiOptions.DevelopmentPassphrase : options.Passphrase;
        tokens ??= new Dictionary<string, Pkcs11Token>(StringComparer.Ordinal);
        Pkcs11Token OpenToken(string name)
        {
            lock (tokens)
            {
                if (!tokens.TryGetValue(name, out Pkcs11Token? token))
                {
                    token = Pkcs11Token.Open(name, options.Tokens.TryGetValue(name, out Pkcs11TokenOptions? settings) ? settings
                        : throw new InvalidOperationException($"no token '{name}' in {PkiOptions.Section}:Tokens"), logger);
                    tokens[name] = token;
                }
                return token;
            }
        }
        var ring = new PkiKeyRing(configured, new RecordedCas(options, dataDirectory, passphrase, logger, OpenToken));
        ring.Recorded!.Refresh(ring);
        return ring;
    }

    private static CertificateAuthorityKeys LoadTokenAuthority(PkiOptions options, string caName, CaKeyOptions keys,
        Dictionary<string, Pkcs11Token> tokens, ILogger logger)
    {
        string prefix = $"{PkiOptions.Section}:CaKeys:{caName}";
        if (!options.Tokens.TryGetValue(keys.Token, out Pkcs11TokenOptions? tokenOptions))
        {
            throw new InvalidOperationException($"{prefix}:Token: no token '{keys.Token}' in {PkiOptions.Section}:Tokens");
        }
        if (!tokens.TryGetValue(keys.Token, out Pkcs11Token? token))
        {
            token = Pkcs11Token.Open(keys.Token, tokenOptions, logger);
            tokens[keys.Token] = token;
        }
        byte[] root = ReadCertificate($"{prefix}:RootCertificate", keys.RootCertificate);
        KeyHolder ca = LoadKey(token, caName, $"{prefix}:Ca", keys.Ca, keys.SiloSecretLabel);
        KeyHolder cmp = LoadKey(token, caName + "/cmp", $"{prefix}:CmpSigner", keys.CmpSigner, null);
        KeyHolder ocsp = LoadKey(token, caName + "/ocsp", $"{prefix}:OcspSigner", keys.OcspSigner, null);
        CheckIssuedBy(ca.CertificateDer, root, $"{prefix}:Ca:Certificate", $"the root certificate ({prefix}:RootCertificate)");
        CheckIssuedBy(cmp.CertificateDer, ca.CertificateDer, $"{prefix}:CmpSigner:Certificate", $"the CA certificate ({prefix}:Ca:Certificate)");
        CheckIssuedBy(ocsp.CertificateDer, ca.CertificateDer, $"{prefix}:OcspSigner:Certificate", $"the CA certificate ({prefix}:Ca:Certificate)");
        try
        {
            ca.DeriveSecret("CmpCluster start-up check");
        }
        catch (KeyUnavailableException e)
        {
            throw new InvalidOperationException($"{prefix}:SiloSecretLabel: {e.InnerException?.Message ?? e.Message}; it must be a generic secret key with CKA_SIGN on token '{token.Label}'");
        }
        LogTokenCa(logger, caName, token.Label, token.Sessions);
        return new CertificateAuthorityKeys(ca, cmp, ocsp,
            Org.BouncyCastle.Asn1.X509.X509CertificateStructure.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(root)));
    }

    private static KeyHolder LoadKey(Pkcs11Token token, string name, string setting, TokenKeyOptions key, string? siloSecretLabel) =>
        LoadKey(token, name, setting, key.KeyLabel, ReadCertificate($"{setting}:Certificate", key.Certificate), siloSecretLabel);

    /// <summary>
    /// The private key labelled <paramref name="keyLabel"/> on <paramref name="token"/> with its certificate <paramref name="der"/>:
    /// there, sensitive, never extractable, allowed to sign, and the certificate's key (a test signature verifies).
    /// </summary>
    internal static KeyHolder LoadKey(Pkcs11Token token, string name, string setting, string keyLabel, byte[] der, string? siloSecretLabel)
    {
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(der);
        using ECDsa? ecPublic = certificate.GetECDsaPublicKey();
        using RSA? rsaPublic = ecPublic is null ? certificate.GetRSAPublicKey() : null;
        if (ecPublic is null && rsaPublic is null)
        {
            throw new InvalidOperationException($"{setting}:Certificate: only EC and RSA keys are supported");
        }
        List<IObjectAttribute> attributes;
        try
        {
            attributes = token.Use(name, session => Pkcs11Token.Read(session, token.Find(session, CKO.CKO_PRIVATE_KEY, keyLabel),
                CKA.CKA_KEY_TYPE, CKA.CKA_SENSITIVE, CKA.CKA_EXTRACTABLE, CKA.CKA_SIGN));
        }
        catch (KeyUnavailableException e)
        {
            throw new InvalidOperationException($"{setting}:KeyLabel: {e.InnerException?.Message ?? e.Message}");
        }
        var keyType = (CKK)attributes[0].GetValueAsUlong();
        if (attributes[1].GetValueAsBool() != true || attributes[2].GetValueAsBool() != false)
        {
            throw new InvalidOperationException($"{setting}:KeyLabel: key '{keyLabel}' on token '{token.Label}' can be extracted "
                + "(CKA_SENSITIVE false or CKA_EXTRACTABLE true): a CA key must never leave the token");
        }
        if (attributes[3].GetValueAsBool() != true)
        {
            throw new InvalidOperationException($"{setting}:KeyLabel: key '{keyLabel}' on token '{token.Label}' may not sign (CKA_SIGN false)");
        }
        if ((keyType == CKK.CKK_EC) != (ecPublic is not null) || keyType is not (CKK.CKK_EC or CKK.CKK_RSA))
        {
            throw new InvalidOperationException($"{setting}:Certificate: the certificate's key is {(ecPublic is null ? "RSA" : "EC")}, key '{keyLabel}' on token '{token.Label}' is {keyType}");
        }
        int keySize = ecPublic?.KeySize ?? rsaPublic!.KeySize;
        var holder = new KeyHolder(name, new Pkcs11Key(token, name, keyLabel, ecPublic is not null, keySize, siloSecretLabel), der);
        // The certificate must be this key's: a test signature verifies under the certificate's public key.
        byte[] probe = RandomNumberGenerator.GetBytes(32);
        byte[] signature;
        try
        {
            signature = holder.Signer.Sign(probe);
        }
        catch (KeyUnavailableException e)
        {
            throw new InvalidOperationException($"{setting}:KeyLabel: key '{keyLabel}' does not sign: {e.Message}");
        }
        (_, HashAlgorithmName hash) = Protocol.Protection.KeySigner.ForKey((ecPublic is not null, keySize));
        bool matches = ecPublic?.VerifyData(probe, signature, hash, DSASignatureFormat.Rfc3279DerSequence)
            ?? rsaPublic!.VerifyData(probe, signature, hash, RSASignaturePadding.Pkcs1);
        if (!matches)
        {
            throw new InvalidOperationException($"{setting}:Certificate: the certificate's public key is not the key '{keyLabel}' on token '{token.Label}'");
        }
        return holder;
    }

    /// <summary>The certificate of <paramref name="key"/> is that key's: a test signature verifies under the certificate's public key.</summary>
    internal static void CheckKeyMatches(KeyHolder key, string setting, string keyDescription)
    {
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(key.CertificateDer);
        using ECDsa? ecPublic = certificate.GetECDsaPublicKey();
        using RSA? rsaPublic = ecPublic is null ? certificate.GetRSAPublicKey() : null;
        byte[] probe = RandomNumberGenerator.GetBytes(32);
        bool matches;
        try
        {
            byte[] signature = key.Signer.Sign(probe);
            (_, HashAlgorithmName hash) = Protocol.Protection.KeySigner.ForKey((ecPublic is not null, ecPublic?.KeySize ?? rsaPublic?.KeySize ?? 0));
            matches = ecPublic?.VerifyData(probe, signature, hash, DSASignatureFormat.Rfc3279DerSequence)
                ?? rsaPublic?.VerifyData(probe, signature, hash, RSASignaturePadding.Pkcs1) ?? false;
        }
        catch (CryptographicException)
        {
            matches = false; // e.g. an RSA key with an EC certificate
        }
        if (!matches)
        {
            throw new InvalidOperationException($"{setting}: the certificate's public key is not the key of {keyDescription}");
        }
    }

    private static byte[] ReadCertificate(string setting, string path)
    {
        if (string.IsNullOrEmpty(path) || !File.Exists(path))
        {
            throw new InvalidOperationException($"{setting}: file '{path}' does not exist");
        }
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(path)).RawData;
        }
        catch (CryptographicException)
        {
            throw new InvalidOperationException($"{setting}: '{path}' holds no PEM certificate");
        }
    }

    /// <summary>RFC 5280 §6.1.3 (a)(1)-(4), the parts that link two certificates: the issuer's signature verifies and the
    /// names chain.</summary>
    internal static void CheckIssuedBy(byte[] subjectDer, byte[] issuerDer, string setting, string issuerDescription)
    {
        var subject = new BcCertificate(subjectDer);
        var issuer = new BcCertificate(issuerDer);
        bool linked = subject.IssuerDN.Equivalent(issuer.SubjectDN, inOrder: true);
        if (linked)
        {
            try
            {
                subject.Verify(issuer.GetPublicKey());
            }
            catch (Exception e) when (e is Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.SignatureException
                or Org.BouncyCastle.Security.Certificates.CertificateException)
            {
                linked = false;
            }
        }
        if (!linked)
        {
            throw new InvalidOperationException($"{setting}: the certificate is not issued by {issuerDescription}");
        }
    }

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "CA {Ca}: keys on PKCS#11 token '{Token}', {Sessions} sessions")]
    private static partial void LogTokenCa(ILogger logger, string ca, string token, int sessions);
}
