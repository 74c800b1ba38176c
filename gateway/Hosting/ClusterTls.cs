using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Orleans.Connections.Security;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// Mutual TLS on the Orleans links of cluster mode: silo to silo and gateway to silo. Every process presents a certificate
/// (<c>Cluster:Tls:CertificatePath</c> and <c>KeyPath</c>, PEM) and accepts a peer only when the peer's certificate chains
/// to the cluster CA (<c>Cluster:Tls:TrustedCaPath</c>). A process without such a certificate (a stray Orleans client,
/// another service on the network) cannot join or call a grain. On by default in cluster mode
/// (<c>Cluster:Tls:Enabled=false</c> turns it off, for a network that is isolated some other way); the single node opens
/// no Orleans port for clients and keeps its silo port on loopback.
/// </summary>
public sealed class ClusterTls
{
    public const string Section = "Cluster:Tls";

    private readonly X509Certificate2 _trustedCa;

    private ClusterTls(X509Certificate2 certificate, X509Certificate2 trustedCa)
    {
        Certificate = certificate;
        _trustedCa = trustedCa;
    }

    /// <summary>This process's own certificate with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>
    /// Reads the TLS settings of a cluster-mode process: null when <c>Cluster:Tls:Enabled</c> is false. Missing or unreadable
    /// files, a certificate without its key, or one that the trusted CA did not issue stop the process at start with a
    /// message that names the setting (a gateway that cannot authenticate must say why, not hang).
    /// </summary>
    public static ClusterTls? Load(IConfiguration configuration)
    {
        IConfigurationSection section = configuration.GetSection(Section);
        if (!section.GetValue("Enabled", true))
        {
            return null;
        }
        string certificatePath = Required(section, "CertificatePath");
        string keyPath = Required(section, "KeyPath");
        string caPath = Required(section, "TrustedCaPath");
        X509Certificate2 certificate;
        X509Certificate2 trustedCa;
        try
        {
            using X509Certificate2 pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            // SslStream on Linux wants a certificate whose key is not ephemeral: round-trip through PKCS#12.
            certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            trustedCa = X509CertificateLoader.LoadCertificateFromFile(caPath);
        }
        catch (Exception e) when (e is IOException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{Section}: cannot read the certificate, key or trusted CA ({e.Message})", e);
        }
        var tls = new ClusterTls(certificate, trustedCa);
        if (!tls.Trusts(certificate))
        {
            throw new InvalidOperationException($"{Section}:CertificatePath '{certificatePath}' is not issued by {Section}:TrustedCaPath '{caPath}' (or has expired)");
        }
        return tls;
    }

    /// <summary>The same settings on silo and client side: present ours, require theirs, accept only the cluster CA's.</summary>
    public void Configure(TlsOptions options)
    {
        options.LocalCertificate = Certificate;
        options.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
        options.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
        // Peers are addressed by IP (Orleans membership), not by name: the trust decision is the chain to the cluster CA.
        options.RemoteCertificateValidation = (certificate, _, _) => certificate is not null && Trusts(certificate);
        options.OnAuthenticateAsClient = (_, ssl) => ssl.TargetHost = "cmpcluster";
    }

    /// <summary>Whether <paramref name="certificate"/> chains to the cluster CA (and only to it) and is within its validity.</summary>
    public bool Trusts(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_trustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    private static string Required(IConfigurationSection section, string key) =>
        section[key] is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{Section}:{key} is required in cluster mode (or set {Section}:Enabled=false); deploy/local/cluster.sh shows how to make one");
}
