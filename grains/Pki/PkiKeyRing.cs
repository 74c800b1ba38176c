using System.Security.Cryptography;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>A private key with its certificate, parsed once per process.</summary>
public sealed class KeyHolder
{
    private readonly AsymmetricAlgorithm _key;

    public KeyHolder(string name, AsymmetricAlgorithm key, byte[] certificateDer)
    {
        _key = key;
        Name = name;
        Signer = new KeySigner(key);
        CertificateDer = certificateDer;
        Certificate = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(certificateDer));
        SubjectKeyIdentifier = ReadSubjectKeyIdentifier(Certificate);
    }

    public string Name { get; }
    public KeySigner Signer { get; }
    public byte[] CertificateDer { get; }
    public X509CertificateStructure Certificate { get; }
    public byte[]? SubjectKeyIdentifier { get; }

    /// <summary>
    /// Signs with this key and records how long it took (cmp.signing.duration, by key and operation). Only silo code that
    /// built the structure itself calls this: there is no grain method that signs bytes a caller chose.
    /// </summary>
    public byte[] Sign(ReadOnlySpan<byte> data, string operation)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        byte[] signature = Signer.Sign(data);
        Telemetry.GrainTelemetry.SigningDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            new("key", Name), new("operation", operation));
        return signature;
    }

    /// <summary>
    /// A secret every process holding this private key derives alike (HMAC-SHA256 keyed with the private scalar or exponent,
    /// over <paramref name="label"/>), and nobody without the key can: the silos' proof to each other
    /// (<see cref="Internal.SiloCallToken"/>). The private key itself never leaves this method.
    /// </summary>
    internal byte[] DeriveSecret(string label)
    {
        byte[] secret = _key switch
        {
            ECDsa ec => ec.ExportParameters(includePrivateParameters: true).D!,
            RSA rsa => rsa.ExportParameters(includePrivateParameters: true).D!,
            _ => throw new InvalidOperationException($"key '{Name}': cannot derive a secret from a {_key.GetType().Name}"),
        };
        try
        {
            return HMACSHA256.HashData(secret, System.Text.Encoding.UTF8.GetBytes(label));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    private static byte[]? ReadSubjectKeyIdentifier(X509CertificateStructure certificate)
    {
        X509Extension? extension = certificate.TbsCertificate.Extensions?.GetExtension(X509Extensions.SubjectKeyIdentifier);
        return extension is null ? null : Org.BouncyCastle.Asn1.X509.SubjectKeyIdentifier.GetInstance(extension.GetParsedValue()).GetKeyIdentifier();
    }
}

/// <summary>One CA as this silo knows it: its signing key, its CMP signer, its delegated OCSP signer and its chain up to the root.</summary>
public sealed class CertificateAuthorityKeys(KeyHolder ca, KeyHolder cmpSigner, KeyHolder ocspSigner, X509CertificateStructure root)
{
    public string Name => Ca.Name;
    public KeyHolder Ca { get; } = ca;
    public KeyHolder CmpSigner { get; } = cmpSigner;

    /// <summary>Signs OCSP responses when Pki:Ocsp:Signer is Delegated (id-kp-OCSPSigning, RFC 6960 §4.2.2.2).</summary>
    public KeyHolder OcspSigner { get; } = ocspSigner;
    public X509CertificateStructure Root { get; } = root;

    /// <summary>extraCerts of a signed response: the signer first, then the chain (RFC 9483 §3.3).</summary>
    public X509CertificateStructure[] SignerChain { get; } = [cmpSigner.Certificate, ca.Certificate, root];

    /// <summary>The CA chain without the CMP signer: issuing CA, then root.</summary>
    public X509CertificateStructure[] CaChain { get; } = [ca.Certificate, root];
}

/// <summary>
/// Every key this silo holds, by CA name. Registered as a singleton and loaded before the silo starts; reachable only from
/// silo code (grains and their services), never through a grain interface.
/// </summary>
public sealed class PkiKeyRing
{
    private readonly Dictionary<string, CertificateAuthorityKeys> _authorities;

    public PkiKeyRing(IEnumerable<CertificateAuthorityKeys> authorities)
    {
        _authorities = authorities.ToDictionary(a => a.Name, StringComparer.Ordinal);
    }

    public CertificateAuthorityKeys? FindAuthority(string name) => _authorities.GetValueOrDefault(name);

    public IEnumerable<CertificateAuthorityKeys> Authorities => _authorities.Values;

    /// <summary>The CA of this silo whose subject is <paramref name="issuer"/> (a certificate's issuer, a template's issuer).</summary>
    public CertificateAuthorityKeys? FindByIssuer(X509Name issuer) =>
        _authorities.Values.FirstOrDefault(a => a.Ca.Certificate.Subject.Equivalent(issuer));
}
