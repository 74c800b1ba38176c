using CmpCluster.Grains.EndEntities;
using Microsoft.Data.Sqlite;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// The single node's subject-DN index (<see cref="ISubjectIndex"/>): a table <c>subject_index</c> next to the grain state in
/// the same file and connection. An entry is one small row written in the group commit of the writes queued with it,
/// where a grain per DN cost an activation, a read and a serialized state write of its own.
/// </summary>
public sealed class SqliteSubjectIndex : ISubjectIndex, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS subject_index (
            dn_key   TEXT NOT NULL,
            username TEXT NOT NULL,
            PRIMARY KEY (dn_key, username)
        ) WITHOUT ROWID;
        """;

    private const string AddSql = "INSERT INTO subject_index (dn_key, username) VALUES ($key, $user) ON CONFLICT DO NOTHING;";

    private const string RemoveSql = "DELETE FROM subject_index WHERE dn_key = $key AND username = $user;";

    private const string FindSql = "SELECT username FROM subject_index WHERE dn_key = $key ORDER BY username;";

    private readonly SqliteDatabase _database;
    private int _disposed;

    /// <param name="options">The database of the grain state (its file; the table name is not used).</param>
    public SqliteSubjectIndex(SqliteStoreOptions options)
    {
        _database = SqliteDatabase.Acquire(options);
        try
        {
            _database.RunExclusive(() => _database.ExecuteNonQuery(Schema));
        }
        catch
        {
            _database.Release();
            throw;
        }
    }

    public Task AddAsync(string dnKey, string username) => ChangeAsync(AddSql, dnKey, username);

    public Task RemoveAsync(string dnKey, string username) => ChangeAsync(RemoveSql, dnKey, username);

    public Task<IReadOnlyList<string>> FindAsync(string dnKey) => _database.RunAsync<IReadOnlyList<string>>(db =>
    {
        SqliteCommand command = db.Command(FindSql, "$key");
        command.Parameters[0].Value = dnKey;
        using SqliteDataReader reader = command.ExecuteReader();
        var usernames = new List<string>();
        while (reader.Read())
        {
            usernames.Add(reader.GetString(0));
        }
        return usernames;
    }, CancellationToken.None);

    /// <summary>Committed with the writes queued alongside it before the task completes.</summary>
    private Task ChangeAsync(string sql, string dnKey, string username) => _database.WriteAsync(db =>
    {
        SqliteCommand command = db.Command(sql, "$key", "$user");
        command.Parameters[0].Value = dnKey;
        command.Parameters[1].Value = username;
        return command.ExecuteNonQuery();
    }, CancellationToken.None);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _database.Release();
        }
    }
}
