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

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly object _gate = new();
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _origins = new(StringComparer.Ordinal);

    public string DataDirectory { get; } = Path.GetFullPath(dataDirectory);

    public static string FolderName(string ca) => DevelopmentPki.FolderName + "-" + ca;

    /// <summary><see cref="RecordedCaDefinition.Created"/> or <see cref="RecordedCaDefinition.Imported"/> for a CA this silo
    /// loaded from its record; null for one of the settings.</summary>
    public string? OriginOf(string ca) => _origins.GetValueOrDefault(ca);

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
            string[] folders;
            try
            {
                folders = Directory.GetDirectories(DataDirectory, DevelopmentPki.FolderName + "-*");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogUnreadable(logger, DataDirectory, e.Message); // the CAs already held go on; the next lookup tries again
                return 0;
            }
            foreach (string folder in folders)
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
                    RecordedCaDefinition recorded = Read(DataDirectory, name) ?? throw new InvalidOperationException($"{marker} is empty");
                    if (recorded.Name != name)
                    {
                        throw new InvalidOperationException($"{marker} names CA '{recorded.Name}', its folder '{name}'");
                    }
                    ring.Add(Load(recorded, folder));
                    _origins[name] = recorded.Origin;
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
        // A second root under an existing root's name would leave relying parties two trust anchors they cannot tell apart.
        var rootName = Org.BouncyCastle.Asn1.X509.X509Name.GetInstance(new X500DistinguishedName(subjects["rootSubject"]).RawData);
        if (input.IssuedBy is null && ring.Authorities.FirstOrDefault(a => a.Root.Subject.Equivalent(rootName)) is { } sameRoot)
        {
            return CaProvisioning.Taken("rootSubject", $"CA '{sameRoot.Name}' has a root with this subject; name the new root differently, or issue under it with issuedBy");
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

    /// <summary>The recorded definition of CA <paramref name="name"/> in <paramref name="dataDirectory"/>, or null (for the <c>pki</c> command).</summary>
    public static RecordedCaDefinition? Read(string dataDirectory, string name)
    {
        string marker = Path.Combine(Path.GetFullPath(dataDirectory), FolderName(name), DefinitionFile);
        return CaName().IsMatch(name) && File.Exists(marker) ? JsonSerializer.Deserialize<RecordedCaDefinition>(File.ReadAllText(marker), Json) : null;
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
            _origins[recorded.Name] = recorded.Origin;
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
        // Names that differ only in case are one CA to the settings (keys are case-insensitive) and two to the rest
        // (grains/Pki/PkiOptionsValidator.cs): taken too. Refreshed first, for the CAs other silos made.
        Refresh(ring);
        bool taken = ring.Authorities.Any(a => string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase))
            || options.Definitions().Any(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase))
            || Directory.GetDirectories(DataDirectory, DevelopmentPki.FolderName + "-*")
                .Any(folder => string.Equals(Path.GetFileName(folder), FolderName(name), StringComparison.OrdinalIgnoreCase));
        return taken ? CaProvisioning.Taken("name", $"CA '{name}' exists (in the settings, or its folder {FolderName(name)} under the data directory; names are compared ignoring case)") : null;
    }

    /// <summary>A recorded CA from its folder, its CA key from its file or its token.</summary>
    private CertificateAuthorityKeys Load(RecordedCaDefinition recorded, string folder)
    {
        KeyHolder? tokenCa = recorded is { Pkcs11Token: { } token, Pkcs11KeyLabel: { } label }
            ? PkiKeys.LoadKey(openToken(token), recorded.Name, $"{folder}/{DefinitionFile}: pkcs11", label,
                X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(folder, "issuing-ca.pem"))).RawData, null)
            : null;
        return DevelopmentPki.Load(Definition(recorded), folder, passphrase, tokenCa, logger);
    }

    internal static bool IsDistinguishedName(string subject)
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

    internal static string? SubjectTaken(PkiKeyRing ring, byte[] subject) =>
        ring.FindByIssuer(Org.BouncyCastle.Asn1.X509.X509Name.GetInstance(Org.BouncyCastle.Asn1.Asn1Object.FromByteArray(subject)))?.Name;

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex CaName();

    [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "CA {Ca} ({Origin} through the admin API) joined the key ring from {Folder}")]
    private static partial void LogJoined(ILogger logger, string ca, string origin, string folder);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "cannot list the CAs made through the admin API in {Folder}: {Reason}")]
    private static partial void LogUnreadable(ILogger logger, string folder, string reason);

    [LoggerMessage(EventId = 106, Level = LogLevel.Error, Message = "CA {Ca}: the recorded CA in {Folder} cannot be loaded and is not served: {Reason}")]
    private static partial void LogUnusable(ILogger logger, string ca, string folder, string reason);
}
