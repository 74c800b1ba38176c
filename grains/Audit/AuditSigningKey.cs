using System.Security.Cryptography;
using System.Text;

namespace CmpCluster.Grains.Audit;

/// <summary>
/// The silo's dedicated audit key (ECDSA P-256) that signs checkpoints. Stored like the CA keys of
/// <see cref="Pki.DevelopmentPki"/>: encrypted PKCS#8 under <c>Pki:Passphrase</c> (AES-256-CBC, PBKDF2-SHA256), with
/// the public key as a PEM file next to it for verifiers.
/// </summary>
public sealed class AuditSigningKey : IDisposable
{
    public const string FolderName = "audit";
    public const string KeyFileName = "audit.key.pem";
    public const string PublicKeyFileName = "audit.pub.pem";

    private readonly ECDsa _key;

    private AuditSigningKey(ECDsa key, string? keyPath)
    {
        _key = key;
        KeyPath = keyPath;
        PublicKeyPem = key.ExportSubjectPublicKeyInfoPem();
        KeyId = KeyIdOf(key);
    }

    /// <summary>Hex of the first 16 octets of SHA-256 over the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).</summary>
    public string KeyId { get; }

    public string PublicKeyPem { get; }

    /// <summary>Where the key was loaded from; null for an in-memory key.</summary>
    public string? KeyPath { get; }

    /// <summary>A fresh key that lives only in memory (tests, benchmarks).</summary>
    public static AuditSigningKey Ephemeral() => new(ECDsa.Create(ECCurve.NamedCurves.nistP256), null);

    /// <summary>
    /// Loads <c>{dataDirectory}/audit/audit.key.pem</c>, creating it (and <c>audit.pub.pem</c>) first when the folder
    /// does not exist. The files are written in a staging folder that is renamed into place, so silos sharing a data
    /// directory that start together end up with one key (the first rename wins) and a crash leaves no half key.
    /// </summary>
    public static AuditSigningKey LoadOrCreate(string dataDirectory, string passphrase, out bool created)
    {
        string folder = Path.Combine(Path.GetFullPath(dataDirectory), FolderName);
        created = false;
        if (!Directory.Exists(folder))
        {
            string staging = $"{folder}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
            Directory.CreateDirectory(staging);
            using (ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                var pbe = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, 200_000);
                string keyPath = Path.Combine(staging, KeyFileName);
                File.WriteAllText(keyPath, key.ExportEncryptedPkcs8PrivateKeyPem(Encoding.UTF8.GetBytes(passphrase), pbe) + "\n");
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
                File.WriteAllText(Path.Combine(staging, PublicKeyFileName), key.ExportSubjectPublicKeyInfoPem() + "\n");
            }
            try
            {
                Directory.Move(staging, folder);
                created = true;
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
        return Load(Path.Combine(folder, KeyFileName), passphrase);
    }

    /// <summary>Loads an encrypted PKCS#8 P-256 key (cluster mode: <c>Audit:KeyPath</c>, provisioned by the operator).</summary>
    public static AuditSigningKey Load(string keyPath, string passphrase)
    {
        string pem;
        try
        {
            pem = File.ReadAllText(keyPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot read the audit key {keyPath}: {e.Message}", e);
        }
        var key = ECDsa.Create();
        try
        {
            key.ImportFromEncryptedPem(pem, passphrase);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            key.Dispose();
            throw new InvalidOperationException($"cannot decrypt the audit key {keyPath}: wrong Pki:Passphrase or damaged file", e);
        }
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new InvalidOperationException($"the audit key {keyPath} is not an ECDSA P-256 key");
        }
        return new AuditSigningKey(key, keyPath);
    }

    /// <summary>ECDSA P-256 with SHA-256, DER signature (RFC 3279 §2.2.3).</summary>
    public byte[] Sign(byte[] toBeSigned) => _key.SignData(toBeSigned, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    public static string KeyIdOf(ECDsa key) =>
        Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo())[..16]);

    public void Dispose() => _key.Dispose();
}

/// <summary>The public keys a verifier trusts, by key id.</summary>
public sealed class AuditVerificationKeys
{
    private readonly Dictionary<string, ECDsa> _keys = new(StringComparer.OrdinalIgnoreCase);

    public int Count => _keys.Count;

    /// <summary>Trusts the P-256 public key in <paramref name="pem"/> (a PUBLIC KEY block, as audit.pub.pem).</summary>
    public void AddPem(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        _keys[AuditSigningKey.KeyIdOf(key)] = key;
    }

    public void Add(AuditSigningKey signingKey) => AddPem(signingKey.PublicKeyPem);

    public bool Knows(string keyId) => _keys.ContainsKey(keyId);

    public bool Verify(string keyId, byte[] toBeSigned, byte[] signature) =>
        _keys.TryGetValue(keyId, out ECDsa? key)
        && key.VerifyData(toBeSigned, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
}
