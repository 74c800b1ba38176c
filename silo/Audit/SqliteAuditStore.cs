using System.Globalization;
using CmpCluster.Grains.Audit;
using CmpCluster.Silo.Storage;
using Microsoft.Data.Sqlite;

namespace CmpCluster.Silo.Audit;

/// <summary>
/// The single node's audit store: <c>audit.db</c> next to the grain database in the data directory, its own file so
/// its commits can be fsynced (<c>PRAGMA synchronous=FULL</c>: a batch that returned survives power loss) without
/// slowing grain state, which stays at NORMAL (silo/Storage/SqliteStoreOptions.cs). One transaction per batch: all of
/// it or nothing. Triggers refuse UPDATE and DELETE, so no code path of this process can rewrite the trail; someone
/// with the file can, which is what the hash chain and the signed checkpoints reveal.
/// </summary>
public sealed class SqliteAuditStore : IAuditStore, IDisposable
{
    public const string FileName = "audit.db";

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS audit_chains (
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            chain_id TEXT NOT NULL UNIQUE
        );
        CREATE TABLE IF NOT EXISTS audit_records (
            id        INTEGER PRIMARY KEY AUTOINCREMENT,
            chain_id  TEXT    NOT NULL,
            seq       INTEGER NOT NULL,
            time      TEXT    NOT NULL,
            type      TEXT    NOT NULL,
            actor     TEXT    NOT NULL,
            target    TEXT    NOT NULL,
            detail    TEXT,
            prev_hash BLOB    NOT NULL,
            hash      BLOB    NOT NULL,
            signature BLOB,
            UNIQUE (chain_id, seq)
        );
        CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_chains_no_update BEFORE UPDATE ON audit_chains
            BEGIN SELECT RAISE(ABORT, 'the audit chain index is append-only'); END;
        CREATE TRIGGER IF NOT EXISTS audit_chains_no_delete BEFORE DELETE ON audit_chains
            BEGIN SELECT RAISE(ABORT, 'the audit chain index is append-only'); END;
        """;

    private const string InsertChainSql = "INSERT INTO audit_chains (chain_id) VALUES ($chain);";

    private const string InsertSql = """
        INSERT INTO audit_records (chain_id, seq, time, type, actor, target, detail, prev_hash, hash, signature)
        VALUES ($chain, $seq, $time, $type, $actor, $target, $detail, $prev, $hash, $sig);
        """;

    private const string HeadSql = "SELECT seq, hash FROM audit_records WHERE chain_id = $chain ORDER BY seq DESC LIMIT 1;";
    private const string IndexSql = "SELECT chain_id FROM audit_chains ORDER BY position;";

    private const string PageSql = """
        SELECT id, chain_id, seq, time, type, actor, target, detail, prev_hash, signature
        FROM audit_records WHERE id > $after ORDER BY id LIMIT $limit;
        """;

    private readonly SqliteDatabase _database;
    private int _disposed;

    /// <param name="databasePath">The database file (created if missing).</param>
    /// <param name="createSchema">False for a verifier: the file is read as it is, its triggers are not re-created.</param>
    public SqliteAuditStore(string databasePath, bool createSchema = true)
    {
        _database = SqliteDatabase.Acquire(new SqliteStoreOptions
        {
            DatabasePath = databasePath,
            Synchronous = SqliteSynchronousMode.Full,
        });
        try
        {
            if (createSchema)
            {
                _database.RunExclusive(() => _database.ExecuteNonQuery(Schema));
            }
        }
        catch
        {
            _database.Release();
            throw;
        }
    }

    public string DatabasePath => _database.Path;

    public static string PathIn(string dataDirectory) => Path.Combine(Path.GetFullPath(dataDirectory), FileName);

    public Task AppendAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
    {
        if (records.Count == 0)
        {
            return Task.CompletedTask;
        }
        return _database.RunAsync(db =>
        {
            db.ExecuteNonQuery("BEGIN IMMEDIATE;");
            try
            {
                if (records[0].Sequence == 1)
                {
                    SqliteCommand chain = db.Command(InsertChainSql, "$chain");
                    chain.Parameters[0].Value = records[0].ChainId;
                    chain.ExecuteNonQuery();
                }
                SqliteCommand insert = db.Command(InsertSql, "$chain", "$seq", "$time", "$type", "$actor", "$target", "$detail", "$prev", "$hash", "$sig");
                foreach (AuditRecord record in records)
                {
                    insert.Parameters[0].Value = record.ChainId;
                    insert.Parameters[1].Value = record.Sequence;
                    insert.Parameters[2].Value = AuditCanonical.FormatTime(record.Time);
                    insert.Parameters[3].Value = record.Type.ToString();
                    insert.Parameters[4].Value = record.Actor;
                    insert.Parameters[5].Value = record.Target;
                    insert.Parameters[6].Value = (object?)record.Detail ?? DBNull.Value;
                    insert.Parameters[7].Value = record.PreviousHash;
                    insert.Parameters[8].Value = record.ComputeHash();
                    insert.Parameters[9].Value = (object?)record.Signature ?? DBNull.Value;
                    insert.ExecuteNonQuery();
                }
                db.ExecuteNonQuery("COMMIT;");
            }
            catch
            {
                Rollback(db);
                throw;
            }
            return true;
        }, cancellationToken);
    }

    public Task<AuditChainHead?> ReadHeadAsync(string chainId, CancellationToken cancellationToken = default) =>
        _database.RunAsync(db =>
        {
            SqliteCommand command = db.Command(HeadSql, "$chain");
            command.Parameters[0].Value = chainId;
            using SqliteDataReader reader = command.ExecuteReader();
            return reader.Read() ? new AuditChainHead(reader.GetInt64(0), (byte[])reader.GetValue(1)) : null;
        }, cancellationToken);

    public Task<IReadOnlyList<string>> ReadChainIndexAsync(CancellationToken cancellationToken = default) =>
        _database.RunAsync<IReadOnlyList<string>>(db =>
        {
            using SqliteDataReader reader = db.Command(IndexSql).ExecuteReader();
            var chains = new List<string>();
            while (reader.Read())
            {
                chains.Add(reader.GetString(0));
            }
            return chains;
        }, cancellationToken);

    public Task<AuditPage> ReadAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        long after = 0;
        if (!string.IsNullOrEmpty(cursor) && !long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            throw new ArgumentException("malformed audit cursor: expected the decimal position of the last record read", nameof(cursor));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        return _database.RunAsync(db =>
        {
            SqliteCommand command = db.Command(PageSql, "$after", "$limit");
            command.Parameters[0].Value = after;
            command.Parameters[1].Value = limit + 1;
            using SqliteDataReader reader = command.ExecuteReader();
            var records = new List<AuditRecord>(Math.Min(limit, 1024));
            long last = after;
            bool more = false;
            while (reader.Read())
            {
                if (records.Count == limit)
                {
                    more = true;
                    break;
                }
                last = reader.GetInt64(0);
                records.Add(ReadRecord(reader, last));
            }
            return new AuditPage(records, last.ToString(CultureInfo.InvariantCulture), more);
        }, cancellationToken);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _database.Release();
        }
    }

    private static AuditRecord ReadRecord(SqliteDataReader reader, long id)
    {
        string time = reader.GetString(3);
        string type = reader.GetString(4);
        if (!AuditCanonical.TryParseTime(time, out DateTimeOffset parsedTime)
            || !Enum.TryParse(type, ignoreCase: false, out AuditEventType parsedType) || type != parsedType.ToString())
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"audit row {id}: unreadable time '{time}' or type '{type}'"));
        }
        return new AuditRecord(
            reader.GetString(1),
            reader.GetInt64(2),
            parsedTime,
            parsedType,
            reader.GetString(5),
            reader.GetString(6),
            reader.IsDBNull(7) ? null : reader.GetString(7),
            (byte[])reader.GetValue(8),
            reader.IsDBNull(9) ? null : (byte[])reader.GetValue(9));
    }

    private static void Rollback(SqliteDatabase db)
    {
        try
        {
            db.ExecuteNonQuery("ROLLBACK;");
        }
        catch (SqliteException)
        {
            // SQLite already rolled the transaction back itself (e.g. after an I/O error at COMMIT).
        }
    }
}
