using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;

namespace CmpCluster.Grains.Pki;

/// <summary>The import of an operator's CA (EJBCA's "Import CA"): the checks of its chain and of its key.</summary>
public sealed partial class RecordedCas
{
    /// <summary>Largest certificate chain or key PEM taken (a chain of two RSA-3072 certificates is about 4 KB).</summary>
    private const int MaxPemChars = 64 * 1024;

    /// <summary>
    /// An operator's CA from a key ceremony (EJBCA's "Import CA"): the CA certificate and its self-signed root, and the CA
    /// key as encrypted PKCS#8 (in the request or in a file the silo can read) or by its label on a token of Pki:Tokens.
    /// Refused unless the CA certificate is a CA (RFC 5280 §4.2.1.9, §4.2.1.3), verifies under the root (RFC 5280 §6.1),
    /// is in its validity period, and the key is its key, of an algorithm the CA signs with.
    /// </summary>
    public CaProvisioning Import(CaImportInput input, string actor, PkiKeyRing ring)
    {
        if (NameProblem(input.Name, ring) is { } problem)
        {
            return problem;
        }
        string name = input.Name!;
        // Bounded before any parsing: what an operator pastes is a few kilobytes.
        foreach ((string field, string? value) in new[] { ("certificateChain", input.CertificateChainPem), ("keyPem", input.KeyPem) })
        {
            if (value?.Length > MaxPemChars)
            {
                return CaProvisioning.Invalid(field, $"must be at most {MaxPemChars} characters");
            }
        }
        X509Certificate2Collection chain = [];
        try
        {
            chain.ImportFromPem(input.CertificateChainPem ?? "");
        }
        catch (CryptographicException)
        {
            return CaProvisioning.Invalid("certificateChain", "must be PEM certificates (-----BEGIN CERTIFICATE-----)");
        }
        try
        {
            if (ImportChainProblem(chain, ring) is { } chainProblem)
            {
                return chainProblem;
            }
            X509Certificate2 ca = chain[0], root = chain[1];
            if (AlgorithmOf(ca) is not { } algorithm)
            {
                return CaProvisioning.Invalid("key", "the CA's key algorithm is not one a CA here signs with: EC P-256 or P-384, RSA 2048 or 3072");
            }
            var recorded = new RecordedCaDefinition(name, RecordedCaDefinition.Imported, root.Subject, ca.Subject,
                input.CmpSignerSubject ?? $"CN=CmpCluster {name} CMP Signer,O=CmpCluster",
                input.OcspSignerSubject ?? $"CN=CmpCluster {name} OCSP Signer,O=CmpCluster", algorithm, null, actor, DateTimeOffset.UtcNow,
                input.Pkcs11KeyLabel is null ? null : input.Pkcs11Token, input.Pkcs11KeyLabel);
            foreach ((string field, string subject) in new[] { ("cmpSignerSubject", recorded.CmpSignerSubject), ("ocspSignerSubject", recorded.OcspSignerSubject) })
            {
                if (!IsDistinguishedName(subject))
                {
                    return CaProvisioning.Invalid(field, "must be a non-empty distinguished name such as CN=Example CMP Signer,O=Example");
                }
            }
            if (input.Pkcs11KeyLabel is not null && input.KeyPem is null && input.KeyFile is null)
            {
                (KeyHolder? tokenCa, CaProvisioning? tokenProblem) = TokenKey(recorded, ca);
                return tokenCa is null ? tokenProblem! : Publish(recorded, ring,
                    staging => DevelopmentPki.ImportInto(options, Definition(recorded), staging, passphrase, ca, root, null, tokenCa), tokenCa);
            }
            (AsymmetricAlgorithm? key, CaProvisioning? keyProblem) = ReadKey(input);
            if (key is null)
            {
                return keyProblem!;
            }
            using (key)
            {
                if (!key.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(ca.PublicKey.ExportSubjectPublicKeyInfo()))
                {
                    return CaProvisioning.Invalid("key", "the key is not the CA certificate's key");
                }
                return Publish(recorded, ring, staging => DevelopmentPki.ImportInto(options, Definition(recorded), staging, passphrase, ca, root, key, null));
            }
        }
        finally
        {
            foreach (X509Certificate2 certificate in chain)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>The chain of an import: the CA certificate, then its self-signed root, each a CA, linked, valid now.</summary>
    private static CaProvisioning? ImportChainProblem(X509Certificate2Collection chain, PkiKeyRing ring)
    {
        if (chain.Count != 2)
        {
            return CaProvisioning.Invalid("certificateChain", "must hold two PEM certificates: the CA's, then the self-signed root that issued it");
        }
        X509Certificate2 ca = chain[0], root = chain[1];
        foreach ((X509Certificate2 certificate, string which) in new[] { (ca, "the CA certificate"), (root, "the root certificate") })
        {
            if (certificate.Extensions["2.5.29.19"] is not X509BasicConstraintsExtension { CertificateAuthority: true })
            {
                return CaProvisioning.Invalid("certificateChain", $"{which} is not a CA certificate (RFC 5280 §4.2.1.9: basicConstraints with cA true)");
            }
            if (certificate.Extensions["2.5.29.15"] is X509KeyUsageExtension usage
                && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
            {
                return CaProvisioning.Invalid("certificateChain", $"{which} may not sign certificates (RFC 5280 §4.2.1.3: keyCertSign)");
            }
            if (DateTime.UtcNow < certificate.NotBefore.ToUniversalTime() || DateTime.UtcNow > certificate.NotAfter.ToUniversalTime())
            {
                return CaProvisioning.Invalid("certificateChain", $"{which} is not within its validity period");
            }
        }
        if (ca.Extensions["2.5.29.15"] is X509KeyUsageExtension caUsage && !caUsage.KeyUsages.HasFlag(X509KeyUsageFlags.CrlSign))
        {
            return CaProvisioning.Invalid("certificateChain", "the CA certificate may not sign CRLs (RFC 5280 §4.2.1.3: cRLSign)");
        }
        try
        {
            PkiKeys.CheckIssuedBy(root.RawData, root.RawData, "the root certificate", "itself");
            PkiKeys.CheckIssuedBy(ca.RawData, root.RawData, "the CA certificate", "the root certificate");
        }
        catch (InvalidOperationException e)
        {
            return CaProvisioning.Invalid("certificateChain", $"the chain does not verify (RFC 5280 §6.1): {e.Message}");
        }
        return SubjectTaken(ring, ca.SubjectName.RawData) is { } twin
            ? CaProvisioning.Taken("certificateChain", $"CA '{twin}' has this CA certificate's subject; every CA needs its own (RFC 5280 §4.1.2.4)")
            : null;
    }

    /// <summary>The CA key: encrypted PKCS#8 PEM (RFC 5958 §3, RFC 7468 §11) from the request or a file, with its passphrase.</summary>
    private static (AsymmetricAlgorithm?, CaProvisioning?) ReadKey(CaImportInput input)
    {
        if (new[] { input.KeyPem is not null, input.KeyFile is not null, input.Pkcs11KeyLabel is not null }.Count(given => given) != 1)
        {
            return (null, CaProvisioning.Invalid("key", "give exactly one of keyPem, keyFile, pkcs11KeyLabel"));
        }
        string field = input.KeyPem is not null ? "keyPem" : "keyFile";
        string pem;
        if (input.KeyFile is { } file)
        {
            if (!Path.IsPathFullyQualified(file) || !File.Exists(file) || new FileInfo(file).Length > MaxPemChars)
            {
                return (null, CaProvisioning.Invalid(field, "must be the absolute path of a key file this silo can read"));
            }
            pem = File.ReadAllText(file);
        }
        else
        {
            pem = input.KeyPem!;
        }
        if (!pem.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal))
        {
            return (null, CaProvisioning.Invalid(field, "must be an encrypted PKCS#8 key (-----BEGIN ENCRYPTED PRIVATE KEY-----)"));
        }
        if (string.IsNullOrEmpty(input.KeyPassphrase))
        {
            return (null, CaProvisioning.Invalid("keyPassphrase", "is required to decrypt the key"));
        }
        foreach (Func<AsymmetricAlgorithm> make in new Func<AsymmetricAlgorithm>[] { ECDsa.Create, RSA.Create })
        {
            AsymmetricAlgorithm key = make();
            try
            {
                key.ImportFromEncryptedPem(pem, input.KeyPassphrase);
                return (key, null);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
                key.Dispose(); // not this kind of key, or a wrong passphrase (reported below)
            }
        }
        return (null, CaProvisioning.Invalid("keyPassphrase", "does not decrypt the key, or the key is neither EC nor RSA"));
    }

    /// <summary>
    /// The CA key on a token of <c>Pki:Tokens</c>, found by its label (CKA_LABEL) and checked as a <c>Pki:CaKeys</c> key is
    /// at start: sensitive, never extractable, allowed to sign, the CA certificate's key.
    /// </summary>
    private (KeyHolder?, CaProvisioning?) TokenKey(RecordedCaDefinition recorded, X509Certificate2 ca)
    {
        if (recorded.Pkcs11Token is not { } tokenName || !options.Tokens.ContainsKey(tokenName))
        {
            return (null, CaProvisioning.Invalid("pkcs11Token", $"must name a token of {PkiOptions.Section}:Tokens ({string.Join(", ", options.Tokens.Keys)})"));
        }
        try
        {
            return (PkiKeys.LoadKey(openToken(tokenName), recorded.Name, "pkcs11", recorded.Pkcs11KeyLabel!, ca.RawData, null), null);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyUnavailableException)
        {
            return (null, CaProvisioning.Invalid("pkcs11KeyLabel", e.Message));
        }
    }

    private static CaKeyAlgorithm? AlgorithmOf(X509Certificate2 certificate)
    {
        using AsymmetricAlgorithm? key = (AsymmetricAlgorithm?)certificate.GetECDsaPublicKey() ?? certificate.GetRSAPublicKey();
        return key is null ? null : DevelopmentPki.AlgorithmOf(key);
    }
}
