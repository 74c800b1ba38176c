using CmpCluster.Grains.Internal;

namespace CmpCluster.Grains.EndEntities;

/// <summary>
/// Subject DN → usernames (keys: <see cref="DnCanonical.Key(Org.BouncyCastle.Asn1.X509.X509Name)"/>), so client mode finds an end entity by the
/// whole requested DN (EJBCA's CMP documentation, "User look-up") and a key update without oldCertID finds the end entity
/// of its template's subject. Maintained by the end-entity grains after their own write: the index may briefly lag, never
/// lead. More than one username under a key makes the lookup ambiguous.
/// </summary>
public interface ISubjectIndex
{
    Task AddAsync(string dnKey, string username);

    Task RemoveAsync(string dnKey, string username);

    Task<IReadOnlyList<string>> FindAsync(string dnKey);
}

/// <summary>
/// The index as one grain per DN key (<see cref="IEndEntityIndexGrain"/>): what versions before the store's own index wrote,
/// and the index where the host gives none (the in-process test cluster with memory storage). Each change costs a grain
/// call, an activation, a read and a write of its own.
/// </summary>
public sealed class GrainSubjectIndex(IGrainFactory grains) : ISubjectIndex
{
    public Task AddAsync(string dnKey, string username) => Grain(dnKey).AddAsync(username);

    public Task RemoveAsync(string dnKey, string username) => Grain(dnKey).RemoveAsync(username);

    public Task<IReadOnlyList<string>> FindAsync(string dnKey) => Grain(dnKey).GetAsync();

    private IEndEntityIndexGrain Grain(string dnKey) => grains.GetGrain<IEndEntityIndexGrain>(dnKey);
}

/// <summary>
/// The node's index: the store's own (a SQLite table next to the grain state, Redis sets in a cluster), written in the
/// end entity's grain call without a grain of its own, and the entries of <see cref="GrainSubjectIndex"/> that an earlier
/// version wrote, read alongside and removed when their end entity changes: an upgrade needs no migration, and a lookup
/// still sees every end entity, ambiguities included.
/// </summary>
public sealed class StoreSubjectIndex(ISubjectIndex store, GrainSubjectIndex earlier) : ISubjectIndex
{
    public Task AddAsync(string dnKey, string username) => store.AddAsync(dnKey, username);

    public async Task RemoveAsync(string dnKey, string username)
    {
        await store.RemoveAsync(dnKey, username);
        await earlier.RemoveAsync(dnKey, username);
    }

    public async Task<IReadOnlyList<string>> FindAsync(string dnKey)
    {
        IReadOnlyList<string> current = await store.FindAsync(dnKey);
        IReadOnlyList<string> before = await earlier.FindAsync(dnKey);
        return before.Count == 0 ? current : current.Union(before, StringComparer.Ordinal).ToArray();
    }
}
