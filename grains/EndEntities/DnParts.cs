using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.EndEntities;

/// <summary>Small operations on subject DNs that client mode needs (a DnPartPwd code rides inside the requested DN).</summary>
public static class DnParts
{
    /// <summary>The DN attribute type named like "UID" or "CN", or a dotted OID; null when unknown.</summary>
    public static DerObjectIdentifier? Type(string component)
    {
        if (X509Name.DefaultLookup.TryGetValue(component.ToLowerInvariant(), out DerObjectIdentifier? known))
        {
            return known;
        }
        return DerObjectIdentifier.TryFromID(component, out DerObjectIdentifier? oid) ? oid : null;
    }

    /// <summary>The value of the one attribute of this type; null when there is none or more than one.</summary>
    public static string? SingleValue(X509Name name, DerObjectIdentifier type)
    {
        var values = name.GetValueList(type);
        return values.Count == 1 ? values[0] : null;
    }

    /// <summary>The DN without every attribute of the named type (unchanged when the type is unknown or absent).</summary>
    public static X509Name Without(X509Name name, string component) =>
        Type(component) is { } type ? Without(name, type) : name;

    public static X509Name Without(X509Name name, DerObjectIdentifier type)
    {
        var oids = name.GetOidList();
        var values = name.GetValueList();
        var keptOids = new List<DerObjectIdentifier>();
        var keptValues = new List<string>();
        for (int i = 0; i < oids.Count; i++)
        {
            if (!oids[i].Equals(type))
            {
                keptOids.Add(oids[i]);
                keptValues.Add(values[i]);
            }
        }
        return keptOids.Count == oids.Count ? name : new X509Name(keptOids, keptValues);
    }
}
