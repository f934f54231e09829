use latchkey_domain::{Client, ClientRepository, StoreResult};
use latchkey_protocol::ClientId;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::{read_all, read_opt};
use crate::entities::clients::{Column, Entity, Model};
use crate::error::db_err;
use crate::SeaStore;

#[async_trait::async_trait]
impl ClientRepository for SeaStore {
    async fn find_client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let row = Entity::find_by_id(id.as_str())
            .one(&self.db)
            .await
            .map_err(db_err("clients.find"))?;
        read_opt(row, Model::into_domain)
    }

    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        Entity::insert(Model::from_domain(client))
            .exec_without_returning(&self.db)
            .await
            .map_err(db_err("clients.insert"))?;
        Ok(())
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let res = Entity::update_many()
            .set(Model::changes(client))
            .filter(Column::Id.eq(client.id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("clients.update"))?;
        Ok(res.rows_affected == 1)
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let rows = Entity::find()
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(db_err("clients.list"))?;
        read_all(rows, Model::into_domain)
    }

    /// Codes, consents and pending requests go with it (ON DELETE CASCADE).
    async fn delete_client(&self, id: &ClientId) -> StoreResult<bool> {
        let res = Entity::delete_many()
            .filter(Column::Id.eq(id.as_str()))
            .exec(&self.db)
            .await
            .map_err(db_err("clients.delete"))?;
        Ok(res.rows_affected == 1)
    }
}
