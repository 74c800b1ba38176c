using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CmpCluster.Gateway.Hosting;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Options;

namespace CmpCluster.Silo.Audit;

/// <summary>
/// The host's half of the audit trail (grains/Audit/AuditServices.cs is the other): the store chosen by the node mode,
/// as silo/SiloProviders.cs chooses grain storage (SQLite <c>audit.db</c> in the data directory for the single node,
/// Redis in a cluster), the audit key, and the events recorded at start.
/// </summary>
public static partial class AuditHosting
{
    public static IServiceCollection AddAuditStore(this IServiceCollection services, NodeOptions node, IConfiguration configuration, string dataDirectory)
    {
        services.PostConfigure<AuditOptions>(o => o.NodeName ??= string.Create(CultureInfo.InvariantCulture, $"{Environment.MachineName}:{node.SiloPort}"));
        if (node.Mode == NodeMode.SingleNode)
        {
            services.AddSingleton<IAuditStore>(_ => new SqliteAuditStore(SqliteAuditStore.PathIn(dataDirectory)));
        }
        else
        {
            ClusterConnection connection = ClusterConnection.Read(configuration);
            services.AddSingleton<IAuditStore>(_ => new RedisAuditStore(connection.RedisOptions(), connection.ServiceId));
        }
        services.AddSingleton(sp => LoadKey(sp.GetRequiredService<IOptions<AuditOptions>>().Value,
            sp.GetRequiredService<IOptions<PkiOptions>>().Value, dataDirectory, sp.GetRequiredService<ILoggerFactory>().CreateLogger("CmpCluster.Audit")));
        services.AddSingleton<IAuditStartupSource, SiloAuditStartup>();
        return services;
    }

    private static AuditSigningKey LoadKey(AuditOptions audit, PkiOptions pki, string dataDirectory, ILogger logger)
    {
        // The CA keys' passphrase (grains/Pki/DevelopmentPki.cs), with the same development fallback and its warning there.
        string passphrase = string.IsNullOrEmpty(pki.Passphrase) ? PkiOptions.DevelopmentPassphrase : pki.Passphrase;
        if (!string.IsNullOrEmpty(audit.KeyPath))
        {
            AuditSigningKey configured = AuditSigningKey.Load(Path.GetFullPath(audit.KeyPath), passphrase);
            KeyLoaded(logger, configured.KeyPath!, configured.KeyId);
            return configured;
        }
        AuditSigningKey key = AuditSigningKey.LoadOrCreate(dataDirectory, passphrase, out bool created);
        string publicKey = Path.Combine(Path.GetDirectoryName(key.KeyPath!)!, AuditSigningKey.PublicKeyFileName);
        if (created)
        {
            KeyCreated(logger, key.KeyPath!, publicKey, key.KeyId);
        }
        else
        {
            KeyLoaded(logger, key.KeyPath!, key.KeyId);
        }
        return key;
    }

    [LoggerMessage(EventId = 710, Level = LogLevel.Information, Message = "Audit key created: {KeyPath} (public key for verifiers: {PublicKeyPath}), key id {KeyId}")]
    private static partial void KeyCreated(ILogger logger, string keyPath, string publicKeyPath, string keyId);

    [LoggerMessage(EventId = 711, Level = LogLevel.Information, Message = "Audit key loaded: {KeyPath}, key id {KeyId}")]
    private static partial void KeyLoaded(ILogger logger, string keyPath, string keyId);
}

/// <summary>
/// What a silo records when its chain starts: ConfigurationLoaded with a SHA-256 fingerprint of the settings that are
/// not secrets (a change between two starts shows as a different fingerprint), and KeyLoaded for each CA, CMP signer
/// and OCSP signer key with the SHA-256 of its certificate.
/// </summary>
internal sealed class SiloAuditStartup(IConfiguration configuration, PkiKeyRing keys, IOptions<AuditOptions> audit, IOptions<NodeOptions> node) : IAuditStartupSource
{
    private static readonly string[] Sections = ["Node", "Cmp", "Pki", "Admin", "Audit", "Tcp", "Tls", "Dashboard"];
    private static readonly string[] SecretWords = ["secret", "passphrase", "password", "token", "connectionstring"];

    public IEnumerable<AuditEvent> StartupEvents()
    {
        string actor = audit.Value.NodeName ?? Environment.MachineName;
        yield return new AuditEvent(AuditEventType.ConfigurationLoaded, actor, "configuration",
            $"mode={node.Value.Mode};settings-sha256={Fingerprint(configuration)}");
        foreach (CertificateAuthorityKeys authority in keys.Authorities)
        {
            foreach (KeyHolder key in new[] { authority.Ca, authority.CmpSigner, authority.OcspSigner })
            {
                yield return new AuditEvent(AuditEventType.KeyLoaded, actor, key.Name,
                    "cert-sha256=" + Convert.ToHexStringLower(SHA256.HashData(key.CertificateDer)));
            }
        }
    }

    /// <summary>SHA-256 over the sorted <c>key=value</c> lines of <see cref="Sections"/>, leaving out every key that
    /// names a secret (so the fingerprint cannot be used to guess one).</summary>
    internal static string Fingerprint(IConfiguration configuration)
    {
        var lines = new List<string>();
        foreach (string section in Sections)
        {
            foreach ((string key, string? value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null && !SecretWords.Any(w => key.Contains(w, StringComparison.OrdinalIgnoreCase)))
                {
                    lines.Add(key + "=" + value);
                }
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', lines))));
    }
}
