using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// At start: an alias that offers server-generated keys has its key packages signed by its CA's CMP signer, which
/// RFC 9483 §4.1.6 wants marked as a key generation authority (id-kp-cmKGA) when it is not the CA itself. Signers made
/// before that marking (an older PKI folder, an operator's own certificate) work, but a client that checks refuses the
/// key: the log says which, once.
/// </summary>
public sealed partial class KeyGenerationAuthorityCheck(PkiKeyRing keys, IOptionsMonitor<CmpOptions> options, ILogger<KeyGenerationAuthorityCheck> logger)
    : IHostedService
{
    private static readonly Org.BouncyCastle.Asn1.DerObjectIdentifier CmKga = new("1.3.6.1.5.5.7.3.32");

    /// <summary>The CAs whose signer lacks id-kp-cmKGA although an alias offers server-generated keys from them.</summary>
    public IReadOnlyList<string> Unmarked() => options.CurrentValue.Aliases.Values
        .Where(alias => alias.AllowServerGeneratedKeys)
        .SelectMany(alias => alias.Ca == CmpAliasOptions.KeyId ? keys.Authorities : keys.FindAuthority(alias.Ca) is { } ca ? [ca] : [])
        .Distinct()
        .Where(ca => !Marked(ca.CmpSigner.Certificate))
        .Select(ca => ca.Name)
        .ToArray();

    private static bool Marked(X509CertificateStructure certificate) =>
        certificate.TbsCertificate.Extensions?.GetExtension(X509Extensions.ExtendedKeyUsage) is { } extension
        && ExtendedKeyUsage.GetInstance(extension.GetParsedValue()).GetAllUsages().Any(usage => usage.Equals(CmKga));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (string ca in Unmarked())
        {
            LogUnmarked(logger, ca);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message =
        "CA {Ca}: an alias offers server-generated keys, but the CMP signer certificate that signs them lacks id-kp-cmKGA (RFC 9483 §4.1.6); clients that check refuse the key: issue the signer again with that extended key usage")]
    private static partial void LogUnmarked(ILogger logger, string ca);
}
