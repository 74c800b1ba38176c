using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.RegularExpressions;
using CmpCluster.Contracts;
using Microsoft.Extensions.Logging;

namespace CmpCluster.Grains.Pki;

/// <summary>What a CA made through the admin API records next to its keys (<c>pki-{name}/ca.json</c>): its definition and its origin.</summary>
/// <param name="Pkcs11Token">With <paramref name="Pkcs11KeyLabel"/>: the token (<c>Pki:Tokens:{name}</c>) that holds the CA key; null: <c>issuing-ca.key.pem</c>.</param>
public sealed record RecordedCaDefinition(string Name, string Origin, string RootSubject, string IssuingSubject, string CmpSignerSubject,
    string OcspSignerSubject, CaKeyAlgorithm KeyAlgorithm, string? IssuedBy, string CreatedBy, DateTimeOffset CreatedAt,
    string? Pkcs11Token = null, string? Pkcs11KeyLabel = null)
{
    public const string Created = "created", Imported = "imported";
}

/// <summary>The data directory where recorded CAs live, for checks made before the key ring is loaded (an alias naming one).</summary>
public sealed record RecordedCaDirectory(string Path)
{
    /// <summary>Whether CA <paramref name="name"/> was made through the admin API and its folder is here.</summary>
    public bool Holds(string name) => File.Exists(System.IO.Path.Combine(Path, RecordedCas.FolderName(name), RecordedCas.DefinitionFile));
}

/// <summary>How a creation or an import ended: the CA now in the key ring, or the field at fault (a conflict: the name or
/// subject is taken).</summary>
public sealed record CaProvisioning(CertificateAuthorityKeys? Ca, bool Conflict = false, string? Field = null, string? Message = null)
{
    public static CaProvisioning Invalid(string field, string message) => new(null, false, field, message);

    public static CaProvisioning Taken(string field, string message) => new(null, true, field, message);
}

/// <summary>
/// CAs created or imported through the admin API. Each is a folder under the data directory, <c>pki-{name}</c>, laid out
/// like the folder a first start makes for a <c>Pki:Cas</c> CA (keys encrypted under Pki:Passphrase), with its definition
/// in <c>ca.json</c>: the folder is the record, on the storage every silo already shares for its CA keys
/// (docs/OPERATIONS.md, "CA keys"). It is written in a staging folder, checked by loading it as a start would, and renamed
/// into place: a refused request leaves nothing, and another silo sees the whole CA or none of it. The silo that took the
/// call adds the CA to its key ring at once; every silo adds the recorded CAs it does not hold at start, when a lookup
/// misses, and every <see cref="RefreshPeriod"/> (grains/Pki/RecordedCaRefresh.cs).
/// </summary>
/// <param name="openToken">The silo's session pool of a token of <c>Pki:Tokens</c>, opened once per process.</param>
public sealed partial class RecordedCas(PkiOptions options, string dataDirectory, string passphrase, ILogger logger, Func<string, Pkcs11Token> openToken)
{
    public const string DefinitionFile = "ca.json";

    public static readonly TimeSpan RefreshPeriod = TimeSpan.FromSeconds(5);

    /// <summary>Largest key file read for an import (an RSA-3072 encrypted PKCS#8 PEM is about 2.5 KB).</summary>
    private const int MaxKeyFileBytes = 64 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly object _gate = new();
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);

    public string DataDirectory { get; } = Path.GetFullPath(dataDirectory);

    public static string FolderName(string ca) => DevelopmentPki.FolderName + "-" + ca;

    /// <summary>Adds each recorded CA <paramref name="ring"/> does not hold yet; returns how many joined. A folder that fails to
    /// load is logged once (until its ca.json changes) and left out.</summary>
    public int Refresh(PkiKeyRing ring)
    {
        if (!Directory.Exists(DataDirectory))
        {
            return 0;
        }
        lock (_gate)
        {
            int added = 0;
            foreach (string folder in Directory.EnumerateDirectories(DataDirectory, DevelopmentPki.FolderName + "-*"))
            {
                string name = Path.GetFileName(folder)[(DevelopmentPki.FolderName.Length + 1)..];
                string marker = Path.Combine(folder, DefinitionFile);
                if (ring.Holds(name) || !CaName().IsMatch(name) || options.Definition(name) is not null || !File.Exists(marker))
                {
                    continue;
                }
                string attempt = marker + "@" + File.GetLastWriteTimeUtc(marker).Ticks;
                if (_failed.Contains(attempt))
                {
                    continue;
                }
                try
                {
                    RecordedCaDefinition recorded = JsonSerializer.Deserialize<RecordedCaDefinition>(File.ReadAllText(marker), Json)
                        ?? throw new InvalidOperationException($"{marker} is empty");
                    if (recorded.Name != name)
                    {
                        throw new InvalidOperationException($"{marker} names CA '{recorded.Name}', its folder '{name}'");
                    }
                    ring.Add(Load(recorded, folder));
                    LogJoined(logger, name, recorded.Origin, folder);
                    added++;
                }
                catch (Exception e) when (e is InvalidOperationException or IOException or CryptographicException or JsonException or UnauthorizedAccessException
                    or KeyUnavailableException)
                {
                    _failed.Add(attempt);
                    LogUnusable(logger, name, folder, e.Message);
                }
            }
            return added;
        }
    }

    /// <summary>
    /// Development bootstrap (EJBCA's "Create CA"): a new root and an issuing CA, or with <see cref="CaCreateInput.IssuedBy"/>
    /// an issuing CA under that CA's root, whose key must be in its development folder. The CMP and OCSP signers come with
    /// it, as at a first start.
    /// </summary>
    public CaProvisioning Create(CaCreateInput input, string actor, PkiKeyRing ring)
    {
        if (NameProblem(input.Name, ring) is { } problem)
        {
            return problem;
        }
        string name = input.Name!;
        CaKeyAlgorithm algorithm = options.KeyAlgorithm;
        if (input.KeyAlgorithm is { } requested && !(Enum.TryParse(requested, ignoreCase: true, out algorithm) && Enum.IsDefined(algorithm) && !int.TryParse(requested, out _)))
        {
            return CaProvisioning.Invalid("keyAlgorithm", $"must be one of {string.Join(", ", Enum.GetNames<CaKeyAlgorithm>())}");
        }
        var subjects = new Dictionary<string, string>();
        foreach ((string field, string? given, string fallback) in new[]
        {
            ("rootSubject", input.RootSubject, $"CN=CmpCluster {name} Root CA,O=CmpCluster"),
            ("issuingSubject", input.IssuingSubject, $"CN=CmpCluster {name} Issuing CA,O=CmpCluster"),
            ("cmpSignerSubject", input.CmpSignerSubject, $"CN=CmpCluster {name} CMP Signer,O=CmpCluster"),
            ("ocspSignerSubject", input.OcspSignerSubject, $"CN=CmpCluster {name} OCSP Signer,O=CmpCluster"),
        })
        {
            if (given is not null && !IsDistinguishedName(given))
            {
                return CaProvisioning.Invalid(field, "must be a non-empty distinguished name such as CN=Example Issuing CA,O=Example");
            }
            subjects[field] = given ?? fallback;
        }
        if (SubjectTaken(ring, new X500DistinguishedName(subjects["issuingSubject"]).RawData) is { } twin)
        {
            return CaProvisioning.Taken("issuingSubject", $"CA '{twin}' has this subject; every CA needs its own (RFC 5280 §4.1.2.4)");
        }
        string? parentFolder = null;
        if (input.IssuedBy is { } parent)
        {
            if (ring.FindAuthority(parent) is null)
            {
                return CaProvisioning.Invalid("issuedBy", $"no CA '{parent}' in this cluster");
            }
            parentFolder = Path.Combine(DataDirectory, options.Definition(parent)?.Folder ?? FolderName(parent));
            if (options.CaKeys.ContainsKey(parent) || !File.Exists(Path.Combine(parentFolder, "root-ca.key.pem")))
            {
                return CaProvisioning.Invalid("issuedBy", $"the root key of CA '{parent}' is not in its development folder (moved offline, "
                    + "imported without it, or on a token): sign this CA's certificate in a ceremony and import it instead");
            }
        }
        var recorded = new RecordedCaDefinition(name, RecordedCaDefinition.Created, subjects["rootSubject"], subjects["issuingSubject"],
            subjects["cmpSignerSubject"], subjects["ocspSignerSubject"], algorithm, input.IssuedBy, actor, DateTimeOffset.UtcNow);
        return Publish(recorded, ring, staging => DevelopmentPki.CreateInto(options, Definition(recorded), staging, passphrase, parentFolder));
    }

    /// <summary>
    /// An operator's CA from a key ceremony (EJBCA's "Import CA"): the CA certificate and its self-signed root, and the CA
    /// key as encrypted PKCS#8 (in the request or in a file the silo can read). Refused unless the CA certificate is a CA
    /// (RFC 5280 §4.2.1.9, §4.2.1.3), verifies under the root (RFC 5280 §6.1), is in its validity period, and the key is
    /// its key, of an algorithm the CA signs with.
    /// </summary>
    public CaProvisioning Import(CaImportInput input, string actor, PkiKeyRing ring)
    {
        if (NameProblem(input.Name, ring) is { } problem)
        {
            return problem;
        }
        string name = input.Name!;
        X509Certificate2Collection chain = [];
        try
        {
            chain.ImportFromPem(input.CertificateChainPem ?? "");
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
        catch (CryptographicException)
        {
            return CaProvisioning.Invalid("certificateChain", "must be PEM certificates (-----BEGIN CERTIFICATE-----)");
        }
        finally
        {
            foreach (X509Certificate2 certificate in chain)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>The definition a recorded CA loads with, as a <c>Pki:Cas</c> CA's would; the node's CRL and OCSP settings apply.</summary>
    public static CaDefinition Definition(RecordedCaDefinition recorded) => new(recorded.Name, $"admin API CA '{recorded.Name}' ({FolderName(recorded.Name)}/{DefinitionFile})",
        FolderName(recorded.Name), recorded.RootSubject, recorded.IssuingSubject, recorded.CmpSignerSubject, recorded.OcspSignerSubject,
        recorded.KeyAlgorithm, null, new RootCaUpdateOptions(), null, recorded.IssuedBy);

    /// <summary>
    /// Writes the CA in a staging folder, loads it as a start would (every key against its certificate, every certificate
    /// against its issuer), renames it into place and adds it to <paramref name="ring"/>; any failure removes what was written.
    /// </summary>
    private CaProvisioning Publish(RecordedCaDefinition recorded, PkiKeyRing ring, Action<string> write, KeyHolder? tokenCa = null)
    {
        string folder = Path.Combine(DataDirectory, FolderName(recorded.Name));
        string staging = Path.Combine(DataDirectory, $".{FolderName(recorded.Name)}.new-{Guid.NewGuid():N}");
        try
        {
            write(staging);
            File.WriteAllText(Path.Combine(staging, DefinitionFile), JsonSerializer.Serialize(recorded, Json));
            CertificateAuthorityKeys keys = DevelopmentPki.Load(Definition(recorded), staging, passphrase, tokenCa);
            lock (_gate)
            {
                try
                {
                    Directory.Move(staging, folder);
                }
                catch (IOException) when (Directory.Exists(folder))
                {
                    return CaProvisioning.Taken("name", $"CA '{recorded.Name}' was made meanwhile (its folder {folder} exists)");
                }
                // The keys loaded from the staging folder are the renamed folder's: no second decryption.
                try
                {
                    ring.Add(keys);
                }
                catch (InvalidOperationException e)
                {
                    Directory.Delete(folder, recursive: true);
                    return CaProvisioning.Taken("name", e.Message);
                }
            }
            LogJoined(logger, recorded.Name, recorded.Origin, folder);
            return new CaProvisioning(keys);
        }
        finally
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }
        }
    }

    private CaProvisioning? NameProblem(string? name, PkiKeyRing ring)
    {
        if (name is null || !CaName().IsMatch(name) || string.Equals(name, Protocol.Configuration.CmpAliasOptions.KeyId, StringComparison.OrdinalIgnoreCase))
        {
            return CaProvisioning.Invalid("name", "must be 1-64 letters, digits, '-' or '_' (and not KeyID)");
        }
        if (ring.FindAuthority(name) is not null || options.Definition(name) is not null || Directory.Exists(Path.Combine(DataDirectory, FolderName(name))))
        {
            return CaProvisioning.Taken("name", $"CA '{name}' exists (in the settings, or its folder {FolderName(name)} under the data directory)");
        }
        return null;
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
            if (!Path.IsPathFullyQualified(file) || !File.Exists(file) || new FileInfo(file).Length > MaxKeyFileBytes)
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

    /// <summary>A recorded CA from its folder, its CA key from its file or its token.</summary>
    private CertificateAuthorityKeys Load(RecordedCaDefinition recorded, string folder)
    {
        KeyHolder? tokenCa = recorded is { Pkcs11Token: { } token, Pkcs11KeyLabel: { } label }
            ? PkiKeys.LoadKey(openToken(token), recorded.Name, $"{folder}/{DefinitionFile}: pkcs11", label,
                X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(folder, "issuing-ca.pem"))).RawData, null)
            : null;
        return DevelopmentPki.Load(Definition(recorded), folder, passphrase, tokenCa);
    }

    private static CaKeyAlgorithm? AlgorithmOf(X509Certificate2 certificate)
    {
        using AsymmetricAlgorithm? key = (AsymmetricAlgorithm?)certificate.GetECDsaPublicKey() ?? certificate.GetRSAPublicKey();
        return key is null ? null : DevelopmentPki.AlgorithmOf(key);
    }

    private static bool IsDistinguishedName(string subject)
    {
        try
        {
            return subject.Length <= 1024 && new X500DistinguishedName(subject).RawData.Length > 2;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    private static string? SubjectTaken(PkiKeyRing ring, byte[] subject) =>
        ring.FindByIssuer(Org.BouncyCastle.Asn1.X509.X509Name.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(subject)))?.Name;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex CaName();

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "CA {Ca} ({Origin} through the admin API) joined the key ring from {Folder}")]
    private static partial void LogJoined(ILogger logger, string ca, string origin, string folder);

    [LoggerMessage(EventId = 106, Level = LogLevel.Error, Message = "CA {Ca}: the recorded CA in {Folder} cannot be loaded and is not served: {Reason}")]
    private static partial void LogUnusable(ILogger logger, string ca, string folder, string reason);
}
