using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.EndEntities;

/// <summary>RA mode name generation (EJBCA's CMP documentation: "RA Name Generation Scheme"), with the alias's prefix and postfix.</summary>
public static class RaNames
{
    public static string Generate(CmpAliasOptions alias, X509Name subject)
    {
        string core = alias.RaNameGeneration switch
        {
            // EJBCA's sample ("Scheme: DN, Parameters: UID, Prefix: cmp") names users cmp<UID>: DN with a parameter is a DN part.
            RaNameGeneration.Dn when alias.RaNameGenerationParameter is { Length: > 0 } part => Part(subject, part),
            RaNameGeneration.Dn or RaNameGeneration.Username => subject.ToString(),
            RaNameGeneration.DnPart => Part(subject, alias.RaNameGenerationParameter ?? "CN"),
            RaNameGeneration.Random => RandomNumberGenerator.GetHexString(16, lowercase: true),
            RaNameGeneration.Fixed => alias.RaNameGenerationParameter ?? "ra",
            _ => throw new ArgumentOutOfRangeException(nameof(alias)),
        };
        return alias.RaNameGenerationPrefix + core + alias.RaNameGenerationPostfix;
    }

    private static string Part(X509Name subject, string component) =>
        (DnParts.Type(component) is { } type ? DnParts.SingleValue(subject, type) : null)
        ?? throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, $"the requested subject has no single {component} to name the end entity");
}
