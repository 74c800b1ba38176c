using System.Security.Cryptography;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// Where a private key lives: an encrypted file loaded into this process (<see cref="FileKey"/>) or a PKCS#11 token that
/// signs and never lets the key out (<see cref="Pkcs11Key"/>). <see cref="KeyHolder"/> is the same for both.
/// </summary>
public interface IPrivateKey
{
    KeySigner Signer { get; }

    /// <summary>Why the key cannot sign now (its token is gone, logged out, failing), or null when it can.</summary>
    string? Fault { get; }

    /// <summary>A secret every process holding this key derives alike, and nobody without it can (see <see cref="KeyHolder.DeriveSecret"/>).</summary>
    byte[] DeriveSecret(string name, string label);

    /// <summary>Asks the key's store whether it can sign now (a faulted token is looked for again); for health checks.</summary>
    bool Probe();
}

/// <summary>A key decrypted from its file into this process (grains/Pki/DevelopmentPki.cs); it never fails after loading.</summary>
public sealed class FileKey(AsymmetricAlgorithm key) : IPrivateKey
{
    public KeySigner Signer { get; } = new(key);

    public string? Fault => null;

    public bool Probe() => true;

    /// <summary>HMAC-SHA256 keyed with the private scalar or exponent over <paramref name="label"/>; the key itself never
    /// leaves this method.</summary>
    public byte[] DeriveSecret(string name, string label)
    {
        byte[] secret = key switch
        {
            ECDsa ec => ec.ExportParameters(includePrivateParameters: true).D!,
            RSA rsa => rsa.ExportParameters(includePrivateParameters: true).D!,
            _ => throw new InvalidOperationException($"key '{name}': cannot derive a secret from a {key.GetType().Name}"),
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
}

/// <summary>A private key with its certificate, parsed once per process.</summary>
public sealed class KeyHolder
{
    private readonly IPrivateKey _key;

    public KeyHolder(string name, AsymmetricAlgorithm key, byte[] certificateDer)
        : this(name, new FileKey(key), certificateDer)
    {
    }

    public KeyHolder(string name, IPrivateKey key, byte[] certificateDer)
    {
        _key = key;
        Name = name;
        Signer = key.Signer;
        CertificateDer = certificateDer;
        Certificate = X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(certificateDer));
        SubjectKeyIdentifier = ReadSubjectKeyIdentifier(Certificate);
    }

    public string Name { get; }
    public KeySigner Signer { get; }
    public byte[] CertificateDer { get; }
    public X509CertificateStructure Certificate { get; }
    public byte[]? SubjectKeyIdentifier { get; }

    /// <summary>Why this key cannot sign now, or null when it can (a file key always can; a token key while its token answers).</summary>
    public string? Fault => _key.Fault;

    /// <summary>Whether the key can sign now, asking its token (which reconnects a faulted one); for health checks.</summary>
    public bool Probe() => _key.Probe();

    /// <summary>
    /// Signs with this key and records how long it took (cmp.signing.duration, by key and operation). Only silo code that
    /// built the structure itself calls this: there is no grain method that signs bytes a caller chose. A key whose token
    /// is gone throws <see cref="KeyUnavailableException"/>.
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
    /// A secret every process holding this private key derives alike, and nobody without the key can: the silos' proof to
    /// each other (<see cref="Internal.SiloCallToken"/>). A file key: HMAC-SHA256 keyed with the private scalar or exponent
    /// over <paramref name="label"/>. A token key, which cannot be read: CKM_SHA256_HMAC (PKCS#11 v2.40 mechanisms §4.20)
    /// with the CA's secret key object on the same token (Pki:CaKeys:{ca}:SiloSecretLabel). The key itself never leaves.
    /// </summary>
    internal byte[] DeriveSecret(string label) => _key.DeriveSecret(Name, label);

    private static byte[]? ReadSubjectKeyIdentifier(X509CertificateStructure certificate)
    {
        X509Extension? extension = certificate.TbsCertificate.Extensions?.GetExtension(X509Extensions.SubjectKeyIdentifier);
        return extension is null ? null : Org.BouncyCastle.Asn1.X509.SubjectKeyIdentifier.GetInstance(extension.GetParsedValue()).GetKeyIdentifier();
    }
}

/// <summary>
/// A key the CA issued with before a renewal with a new key (<c>pki renew-ca --new-key</c>), with its CA certificate:
/// it signs nothing new, only the CRL and the OCSP answers for the certificates it signed (RFC 5280 §5: the CRL issuer is
/// the certificate issuer; RFC 6960 §4.2.2.2), until its certificate ends.
/// </summary>
public sealed record RetiredCaKey(int Generation, KeyHolder Ca);

/// <summary>One CA as this silo knows it: its signing key, its CMP signer, its delegated OCSP signer and its chain up to the root.</summary>
/// <param name="keyGeneration">How many renewals with a new key the CA key has had (0: the first key); it names the CRL of
/// the certificates the key signs (<see cref="CrlNames"/>).</param>
/// <param name="retired">The CA's earlier keys whose certificates have not ended, oldest first.</param>
/// <param name="firstKey">The oldest CA key on file (retired or not, ended or not), from which the silos derive their
/// shared secret (grains/Internal/SiloCallToken.cs): a renewal with a new key leaves it as it is, so silos restarted with
/// the new key and silos not restarted yet still recognise each other. Null: the current key.</param>
public sealed class CertificateAuthorityKeys(KeyHolder ca, KeyHolder cmpSigner, KeyHolder ocspSigner, X509CertificateStructure root,
    int keyGeneration = 0, IReadOnlyList<RetiredCaKey>? retired = null, KeyHolder? firstKey = null)
{
    public string Name => Ca.Name;
    public KeyHolder Ca { get; } = ca;

    /// <summary>The generation of <see cref="Ca"/>: 0 for the CA's first key, n after the n-th renewal with a new key.</summary>
    public int KeyGeneration { get; } = keyGeneration;

    /// <summary>The CA's earlier keys still answering for the certificates they signed, oldest first.</summary>
    public IReadOnlyList<RetiredCaKey> Retired { get; } = retired ?? [];

    /// <summary>The key the silos' shared secret is derived from: the CA's oldest key on file.</summary>
    public KeyHolder FirstKey { get; } = firstKey ?? ca;

    /// <summary>The CA key of generation <paramref name="generation"/>: the current one, a retired one, or null.</summary>
    public KeyHolder? KeyOf(int generation) =>
        generation == KeyGeneration ? Ca : Retired.FirstOrDefault(r => r.Generation == generation)?.Ca;
    public KeyHolder CmpSigner { get; } = cmpSigner;

    /// <summary>Signs OCSP responses when Pki:Ocsp:Signer is Delegated (id-kp-OCSPSigning, RFC 6960 §4.2.2.2).</summary>
    public KeyHolder OcspSigner { get; } = ocspSigner;
    public X509CertificateStructure Root { get; } = root;

    /// <summary>extraCerts of a signed response: the signer first, then the chain (RFC 9483 §3.3).</summary>
    public X509CertificateStructure[] SignerChain { get; } = [cmpSigner.Certificate, ca.Certificate, root];

    /// <summary>The CA chain without the CMP signer: issuing CA, then root.</summary>
    public X509CertificateStructure[] CaChain { get; } = [ca.Certificate, root];

    /// <summary>Why this CA cannot sign now (one of its keys is unavailable), or null when all three can.</summary>
    public string? Fault => Ca.Fault ?? CmpSigner.Fault ?? OcspSigner.Fault;

    /// <summary>Asks each key's store (a token that failed is looked for again) and returns <see cref="Fault"/> after.</summary>
    public string? Probe()
    {
        foreach (KeyHolder key in new[] { Ca, CmpSigner, OcspSigner })
        {
            key.Probe();
        }
        return Fault;
    }
}

/// <summary>
/// Every key this silo holds, by CA name. Registered as a singleton and loaded before the silo starts; reachable only from
/// silo code (grains and their services), never through a grain interface. CAs created or imported through the admin API
/// join it while the silo runs (<see cref="RecordedCas"/>): a lookup that misses asks the data directory once more, so
/// every silo that shares it serves a new CA from its first request.
/// </summary>
public sealed class PkiKeyRing
{
    private readonly object _gate = new();
    private Dictionary<string, CertificateAuthorityKeys> _authorities;

    public PkiKeyRing(IEnumerable<CertificateAuthorityKeys> authorities, RecordedCas? recorded = null)
    {
        CertificateAuthorityKeys[] all = authorities.ToArray();
        _authorities = all.ToDictionary(a => a.Name, StringComparer.Ordinal);
        Default = all.Length > 0 ? all[0] : throw new ArgumentException("a key ring holds at least one CA", nameof(authorities));
        Configured = all;
        Recorded = recorded;
    }

    /// <summary>The CA named by Pki:CaName (the first loaded): it signs answers that name no CA, such as errors of a KeyID alias.</summary>
    public CertificateAuthorityKeys Default { get; }

    /// <summary>The CAs of the settings (Pki:CaName, Pki:Cas), the same on every silo whenever it started.</summary>
    public IReadOnlyList<CertificateAuthorityKeys> Configured { get; }

    /// <summary>Where CAs made through the admin API are kept (the data directory); null for a ring built in code.</summary>
    public RecordedCas? Recorded { get; }

    /// <summary>Grows by one each time a CA joins; whoever indexes the CAs (OCSP) rebuilds when it changes.</summary>
    public int Version { get; private set; }

    public CertificateAuthorityKeys? FindAuthority(string name) =>
        _authorities.GetValueOrDefault(name) ?? (Recorded?.Refresh(this) > 0 ? _authorities.GetValueOrDefault(name) : null);

    public IEnumerable<CertificateAuthorityKeys> Authorities => _authorities.Values;

    /// <summary>Whether the ring holds CA <paramref name="name"/> now, without asking the data directory.</summary>
    public bool Holds(string name) => _authorities.ContainsKey(name);

    /// <summary>The CA of this silo whose subject is <paramref name="issuer"/> (a certificate's issuer, a template's issuer).</summary>
    public CertificateAuthorityKeys? FindByIssuer(X509Name issuer) =>
        FindBySubject(issuer) ?? (Recorded?.Refresh(this) > 0 ? FindBySubject(issuer) : null);

    /// <summary>
    /// Adds a CA while the silo runs. Certificates, CRLs and OCSP CertIDs name their CA by its subject (RFC 5280 §4.1.2.4,
    /// RFC 6960 §4.1.1): a name or a subject already in the ring is refused.
    /// </summary>
    public void Add(CertificateAuthorityKeys authority)
    {
        lock (_gate)
        {
            if (_authorities.ContainsKey(authority.Name))
            {
                throw new InvalidOperationException($"CA '{authority.Name}' is already in the key ring");
            }
            if (FindBySubject(authority.Ca.Certificate.Subject) is { } twin)
            {
                throw new InvalidOperationException($"CA '{authority.Name}' has the subject of CA '{twin.Name}' ({authority.Ca.Certificate.Subject})");
            }
            // Readers hold the previous dictionary: a new one replaces it whole, never changed in place.
            _authorities = new Dictionary<string, CertificateAuthorityKeys>(_authorities, StringComparer.Ordinal) { [authority.Name] = authority };
            Version++;
        }
    }

    private CertificateAuthorityKeys? FindBySubject(X509Name subject) =>
        _authorities.Values.FirstOrDefault(a => a.Ca.Certificate.Subject.Equivalent(subject));
}
