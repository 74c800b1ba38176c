using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;

namespace CmpCluster.Gateway.Hosting;

/// <summary>
/// HTTPS beside HTTP. Kestrel reads the listeners from its own section, e.g.
/// <c>Kestrel:Endpoints:Http:Url=http://127.0.0.1:8080</c>, <c>Kestrel:Endpoints:Https:Url=https://127.0.0.1:8443</c>,
/// <c>Kestrel:Endpoints:Https:Certificate:Path=server.pem</c>, <c>...:Certificate:KeyPath=server.key.pem</c> and, to
/// require RA client certificates, <c>Kestrel:Endpoints:Https:ClientCertificateMode=RequireCertificate</c>. Client
/// certificates are then checked against <c>Tls:ClientCertificateAuthorities</c> (a PEM bundle), not the system store:
/// RA certificates usually come from a private CA.
/// </summary>
public static class GatewayTls
{
    public const string ClientCaKey = "Tls:ClientCertificateAuthorities";

    public static IWebHostBuilder Configure(IWebHostBuilder web, IConfiguration configuration)
    {
        string? bundle = configuration[ClientCaKey];
        if (string.IsNullOrWhiteSpace(bundle))
        {
            return web;
        }
        var anchors = new X509Certificate2Collection();
        anchors.ImportFromPemFile(Path.GetFullPath(bundle));
        if (anchors.Count == 0)
        {
            throw new InvalidOperationException($"{ClientCaKey}: no certificate in {bundle}");
        }
        return web.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
        {
            https.ClientCertificateValidation = (certificate, _, _) => IsTrusted(certificate, anchors);
        }));
    }

    /// <summary>Chains to one of the anchors (RFC 5280 §6 path validation by .NET), with clientAuth if an EKU is present.</summary>
    private static bool IsTrusted(X509Certificate2 certificate, X509Certificate2Collection anchors)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        foreach (X509Certificate2 anchor in anchors)
        {
            // Roots anchor the path; an issuing CA in the bundle only helps build it.
            (anchor.SubjectName.RawData.AsSpan().SequenceEqual(anchor.IssuerName.RawData)
                ? chain.ChainPolicy.CustomTrustStore : chain.ChainPolicy.ExtraStore).Add(anchor);
        }
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // The path is built from the bundle only: never fetch an AIA caIssuers URL that the client's certificate names
        // (the handshake would make the gateway connect where the client says, and wait for it).
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid("1.3.6.1.5.5.7.3.2"));
        return chain.Build(certificate);
    }
}
