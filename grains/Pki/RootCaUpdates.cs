using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// A root CA rollover announced to clients (RFC 9483 §4.3.2, RFC 4210 §4.4): the new root self-signed (newWithNew), the
/// new root's key certified by the old root (newWithOld) and the old root's key certified by the new one (oldWithNew).
/// </summary>
public sealed record RootCaUpdate(X509CertificateStructure NewWithNew, X509CertificateStructure? NewWithOld, X509CertificateStructure? OldWithNew);

/// <summary><c>Pki:RootCaUpdate</c> (the default CA's) and <c>Pki:Cas:{name}:RootCaUpdate</c>: PEM files of a configured root
/// rollover. All empty: no rollover.</summary>
public sealed class RootCaUpdateOptions
{
    /// <summary>PEM file of the new root certificate, self-signed; required when either of the others is set.</summary>
    public string? NewWithNew { get; set; }

    /// <summary>PEM file of the new root's key certified by the old root.</summary>
    public string? NewWithOld { get; set; }

    /// <summary>PEM file of the old root's key certified by the new root.</summary>
    public string? OldWithNew { get; set; }
}

/// <summary>
/// Loads each CA's configured rollover (<c>Pki:RootCaUpdate</c>, <c>Pki:Cas:{name}:RootCaUpdate</c>) once per process; the
/// files are read at first use, and a bad one stops nothing but genm.
/// </summary>
public sealed class RootCaUpdates(IOptions<PkiOptions> options)
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<RootCaUpdate?>> _updates = new(StringComparer.Ordinal);

    /// <summary>The rollover of CA <paramref name="ca"/>'s root, or null when none is configured.</summary>
    public RootCaUpdate? For(string ca) => _updates.GetOrAdd(ca, name => new Lazy<RootCaUpdate?>(() =>
        options.Value.Definition(name) is { } definition ? Load(definition.RootCaUpdate) : null)).Value;

    private static RootCaUpdate? Load(RootCaUpdateOptions files) => string.IsNullOrEmpty(files.NewWithNew)
        ? null
        : new RootCaUpdate(Read(files.NewWithNew)!, Read(files.NewWithOld), Read(files.OldWithNew));

    private static X509CertificateStructure? Read(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }
        byte[] der = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(path)).RawData;
        return X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(der));
    }
}
